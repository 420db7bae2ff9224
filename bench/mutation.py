"""Mutation testing of ONE module with mutmut 3, by hand (never in CI): how many of its
mutants make the tests fail.

    .venv/bin/python bench/mutation.py experts/redemption.py
    .venv/bin/python bench/mutation.py voucher_service/vouchers/codes.py
    .venv/bin/python bench/mutation.py experts/redemption.py tests/experts/test_redemption.py

Tests default to the module's entry in TESTS below, else its package's folder of tests
(voucher_service/payouts/x.py → tests/payouts); any paths after the module replace them.
Only the SQLite leg runs, without the browser tests (their server is a subprocess).

`--recheck` runs the tests as they are now on the survivors of the last pass only (each
mutant written into the scratch copy, the tests run on it): minutes instead of a pass.

Why a scratch copy: mutmut 3 reads its settings from the pyproject.toml of the folder it
runs in and mutates every file of its `source_paths`. The shared settings live in
`[tool.mutmut]` of pyproject.toml; this script copies the packages, the tests and
pyproject.toml into build/mutation/<module>/, adds `only_mutate` (this module) and the
test selection there, and runs `mutmut run --max-children 1` in that copy, so that two
modules can be run side by side and the work tree stays clean.

How the layout works with mutmut: the packages are top-level folders (no src/), which
mutmut puts first on sys.path from its mutants/ copy; the editable install's finder only
answers for what sys.path does not hold, so in-process tests import the mutants. Tests
that start the service as a subprocess (`serve`, the CLI, the PDF workers) import the
installed, unmutated package: they run but cannot kill, which is why the score counts
only mutants whose tests FAILED (mutmut's "killed"); "no tests", timeouts and survivors
all count against it. mutmut 3 mutates inside functions only, so a mutant never breaks
the module's import. Once, mutant generation hung at 0% CPU (mutmut's pool of one
process): stop it and run the script again.
"""

import argparse
import fnmatch
import json
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = Path(sys.executable).parent / "mutmut"
COPIED = ("voucher_service", "experts", "notifications", "tests", "pyproject.toml", "alembic.ini")
# The SQLite leg; the database-restart test (a private PostgreSQL cluster) is left out.
SELECTION = ["-k", "not postgres", "-m", "not browser"]
TESTS = {
    "experts/redemption.py": [
        "tests/experts/test_redemption.py",
        "tests/experts/test_redemption_races.py",
        "tests/vouchers/test_redemption.py",
        "tests/web/test_expert_pages.py",
        "tests/notifications/test_rendering.py",
    ],
    "voucher_service/vouchers/codes.py": ["tests/vouchers/test_codes.py"],
    "voucher_service/vouchers/validity.py": [
        "tests/vouchers/test_validity.py",
        "tests/vouchers/test_redemption.py",
    ],
    "voucher_service/vouchers/service.py": [
        "tests/vouchers/test_redemption.py",
        "tests/vouchers/test_vouchers_api.py",
        "tests/vouchers/test_tokens.py",
        "tests/vouchers/test_pdf.py",  # render_pdf: in process, the workers it calls are not
    ],
    "voucher_service/vouchers/keys.py": ["tests/vouchers/test_tokens.py"],
    "voucher_service/vouchers/accounting.py": ["tests/vouchers/test_vouchers_api.py"],
}
IGNORED = shutil.ignore_patterns("__pycache__", "node_modules", ".hypothesis")
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", None: "unchecked"}
TIMEOUTS = {24, -24, 36, 152, 255}


def default_tests(module: str) -> list[str]:
    if module in TESTS:
        return TESTS[module]
    parts = Path(module).parts
    package = parts[1] if parts[0] == "voucher_service" else parts[0]
    return [f"tests/{package}"]


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value)
    assert isinstance(value, list)
    return "[" + ", ".join(toml_value(item) for item in value) + "]"


def scratch_pyproject(module: str, tests: list[str]) -> str:
    """pyproject.toml with its [tool.mutmut] table (the last one) extended for this run."""
    text = (ROOT / "pyproject.toml").read_text()
    head, marker, _ = text.partition("\n[tool.mutmut]\n")
    assert marker, "pyproject.toml has no [tool.mutmut] table"
    settings = tomllib.loads(text)["tool"]["mutmut"]
    settings["only_mutate"] = [module]
    settings["pytest_add_cli_args_test_selection"] = [*tests, *SELECTION]
    lines = [f"{key} = {toml_value(value)}" for key, value in settings.items()]
    return head + marker + "\n".join(lines) + "\n"


def scratch_of(module: str) -> Path:
    return ROOT / "build" / "mutation" / module.replace("/", "_").removesuffix(".py")


def prepare(module: str, tests: list[str]) -> Path:
    scratch = scratch_of(module)
    shutil.rmtree(scratch, ignore_errors=True)  # a fresh pass: no result kept from before
    scratch.mkdir(parents=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, scratch / name, ignore=IGNORED)
        else:
            shutil.copy2(source, scratch / name)
    (scratch / "pyproject.toml").write_text(scratch_pyproject(module, tests))
    return scratch


def recheck(scratch: Path, module: str, tests: list[str], only: str) -> None:
    """The survivors of the last pass against the tests as they are now: each mutant is
    written into the scratch copy of the module (`mutmut apply`) and the tests run on it;
    a failing run (pytest's exit code 1, not a collection error) kills it."""
    meta_path = scratch / "mutants" / f"{module}.meta"
    meta = json.loads(meta_path.read_text())
    results: dict[str, int | None] = meta["exit_code_by_key"]
    survivors = sorted(
        name
        for name, code in results.items()
        if STATUS.get(code) != "killed" and fnmatch.fnmatch(name, only)
    )
    shutil.rmtree(scratch / "tests")
    shutil.copytree(ROOT / "tests", scratch / "tests", ignore=IGNORED)
    source = scratch / module
    original = source.read_text()
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    for name in survivors:
        subprocess.run([str(MUTMUT), "apply", name], cwd=scratch, check=True)
        try:
            run = subprocess.run(
                [*command, *tests, *SELECTION], cwd=scratch, capture_output=True, text=True
            )
        finally:
            source.write_text(original)
        print(f"  {'killed' if run.returncode == 1 else 'survived'} on recheck: {name}", flush=True)
        if run.returncode == 1:
            results[name] = 1
            meta_path.write_text(json.dumps(meta))  # kept if the recheck is stopped


def score(scratch: Path, module: str) -> int:
    meta = json.loads((scratch / "mutants" / f"{module}.meta").read_text())
    results: dict[str, int | None] = meta["exit_code_by_key"]
    statuses = Counter(
        "timeout" if code in TIMEOUTS else STATUS.get(code, "suspicious")
        for code in results.values()
    )
    survivors = sorted(name for name, code in results.items() if STATUS.get(code) != "killed")
    for name in survivors:
        code = results[name]
        print(f"  {'timeout' if code in TIMEOUTS else STATUS.get(code, code)}: {name}")
    killed, total = statuses["killed"], len(results)
    print(f"{module}: {dict(statuses)}")
    print(f"{module}: {killed}/{total} killed, score {100 * killed / max(total, 1):.1f}%")
    print(f"Show a survivor: cd {scratch.relative_to(ROOT)} && {MUTMUT} show NAME")
    return 0 if total else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="a file path, e.g. experts/redemption.py")
    parser.add_argument("tests", nargs="*", help="test files or folders (default: see TESTS)")
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="run the current tests on the last pass's survivors only, then score",
    )
    parser.add_argument(
        "--only", default="*", help="with --recheck: the survivors whose name matches this glob"
    )
    arguments = parser.parse_intermixed_args()
    module = arguments.module.removeprefix("./")
    if not (ROOT / module).is_file():
        parser.error(f"no such module: {module}")
    tests = arguments.tests or default_tests(module)
    if arguments.recheck:
        scratch = scratch_of(module)
        if not (scratch / "mutants" / f"{module}.meta").is_file():
            parser.error(f"no pass to recheck in {scratch.relative_to(ROOT)}")
        recheck(scratch, module, tests, arguments.only)
        return score(scratch, module)
    scratch = prepare(module, tests)
    print(f"mutating {module} against {' '.join(tests)} in {scratch.relative_to(ROOT)}")
    # One child: the machine's two cores are shared. The mutants of this module only.
    pattern = module.removesuffix(".py").replace("/", ".") + ".*"
    run = subprocess.run([str(MUTMUT), "run", "--max-children", "1", pattern], cwd=scratch)
    if run.returncode != 0:
        print(f"mutmut run exited {run.returncode}")
        return run.returncode
    return score(scratch, module)


if __name__ == "__main__":
    sys.exit(main())
