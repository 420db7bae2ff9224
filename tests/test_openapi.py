"""The committed spec is the app's spec, and every operation follows the house rules."""

import json
from typing import Any

from voucher_service.app import create_app
from voucher_service.core import openapi
from voucher_service.core.config import Settings

spec = json.loads(openapi.render(create_app(Settings(_env_file=None))))


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


class TestOpenApi:
    def test_committed_spec_matches_the_app(self) -> None:
        committed = json.loads(openapi.SPEC_PATH.read_text(encoding="utf-8"))
        assert committed == spec, "openapi/openapi.json is stale: run `voucher-service openapi`"

    def test_operation_ids_are_tag_and_function(self) -> None:
        for path, method, operation in operations():
            tag = operation["tags"][0]
            assert operation["operationId"].startswith(f"{tag}:"), (path, method)
            assert operation.get("summary"), (path, method)

    def test_errors_are_documented_as_problem_json(self) -> None:
        for path, method, operation in operations():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        path,
                        method,
                        status,
                    )
