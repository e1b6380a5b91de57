"""The published JSON Schemas and AsyncAPI document never drift from the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from contracts.export import PACKAGE_ROOT, asyncapi, published_files

FIXTURES = Path(__file__).parent / "fixtures"
PUBLISHED = published_files()


@pytest.mark.parametrize("relative", sorted(PUBLISHED), ids=str)
def test_published_file_matches_the_models(relative: Path) -> None:
    committed = PACKAGE_ROOT / relative
    assert committed.exists(), f"{relative} is missing: run `make contracts`"
    assert committed.read_text(encoding="utf-8") == PUBLISHED[relative], (
        f"{relative} drifted from the models: run `make contracts` and commit the result"
    )


def test_no_stale_schema_files_remain() -> None:
    on_disk = {p.relative_to(PACKAGE_ROOT) for p in (PACKAGE_ROOT / "schema").rglob("*.json")}
    assert on_disk <= set(PUBLISHED), f"stale files: {sorted(on_disk - set(PUBLISHED))}"


def test_asyncapi_document_is_valid_asyncapi_3() -> None:
    # The official AsyncAPI 3.0.0 JSON Schema (from the @asyncapi/specs package, Apache-2.0).
    spec = json.loads((FIXTURES / "asyncapi-3.0.0.schema.json").read_text())
    jsonschema.Draft7Validator(spec).validate(yaml.safe_load(yaml.safe_dump(asyncapi())))


def test_every_ref_in_the_asyncapi_document_resolves() -> None:
    document = asyncapi()

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for item in node for r in refs(item)]
        return []

    for ref in refs(document):
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert part in target, f"unresolved $ref {ref}"
            target = target[part]


def test_every_channel_declares_the_parameters_of_its_address() -> None:
    for name, channel in asyncapi()["channels"].items():
        params = {p.split("}")[0] for p in channel["address"].split("{")[1:]}
        assert params == set(channel["parameters"]), name
