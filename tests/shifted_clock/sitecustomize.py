"""Python imports this module at start-up when its folder is on PYTHONPATH: the tests put it
there, with MCD_TEST_CLOCK_OFFSET, so that every process they start (the server, its
workers, the CLI) runs on the same shifted clock as the tests themselves."""

import os

if offset := os.environ.get("MCD_TEST_CLOCK_OFFSET"):
    import time

    import time_machine

    time_machine.travel(time.time() + float(offset), tick=True).start()
    time.time()  # time_machine's clock starts ticking when it is first read
