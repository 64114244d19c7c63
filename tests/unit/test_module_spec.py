"""The stored module spec: one loader, versioned, migrating what older versions stored."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.modules.inputs import deployable_inputs, sensitive_names
from core.modules.model import SPEC_VERSION, ModuleSpec
from core.modules.parser import parse_module
from core.modules.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "modules"


def example(name: str) -> ModuleSpec:
    parsed = parse_module(name, {p.name: p.read_bytes() for p in (EXAMPLES / name).glob("*.tf")})
    assert isinstance(parsed, ModuleSpec), str(parsed)
    return parsed


def stored(spec: ModuleSpec) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(spec.to_json()))  # through the JSON column
    return data


def as_version_1(data: dict[str, Any]) -> dict[str, Any]:
    """What the bot stored before specs were versioned: no version field, parser 2."""
    old = {key: value for key, value in data.items() if key != "version"}
    return {**old, "parser": 2}


@pytest.mark.parametrize("name", ["budget-alerts", "data-bucket", "ml-notebook", "network-plan", "static-site"])
def test_a_stored_spec_loads_back_equal_and_carries_its_version(name: str) -> None:
    spec = example(name)
    data = stored(spec)
    assert data["version"] == SPEC_VERSION == 2
    assert load_spec(data) == spec


def test_a_version_1_spec_is_migrated_to_the_same_typed_spec() -> None:
    spec = example("ml-notebook")
    assert load_spec(as_version_1(stored(spec))) == spec


def test_a_partial_version_1_spec_takes_the_defaults() -> None:
    spec = load_spec({"name": "old", "credit_cost": 5, "inputs": [
        {"name": "region", "type": "string", "default": "eu"},
        {"name": "token", "sensitive": True, "required": True},
    ], "outputs": [{"name": "url"}]})
    assert (spec.name, spec.credit_cost, spec.description, spec.dependencies) == ("old", Decimal(5), "", ())
    region, token = spec.inputs
    assert (region.has_default, region.default, region.required) == (True, "eu", False)
    assert (token.required, token.sensitive, token.type, token.kind) == (True, True, "any", "json")
    assert [output.name for output in spec.outputs] == ["url"]


def test_migration_converts_old_defaults_as_terraform_converts_them() -> None:
    data = {"name": "old", "inputs": [
        {"name": "size", "type": "object({name = string, zone = optional(string, \"eu\")})", "default": {"name": "x"}},
        {"name": "count", "type": "number", "default": "3"},
        {"name": "odd", "type": "number", "default": "not a number"},
    ]}
    by_name = {variable.name: variable for variable in load_spec(data).inputs}
    assert by_name["size"].default == {"name": "x", "zone": "eu"}
    assert by_name["count"].default == 3
    assert by_name["odd"].default == "not a number"  # kept; the next scan re-parses and refuses the module


def test_nothing_stored_is_a_spec_with_nothing_declared() -> None:
    assert load_spec(None) == load_spec({}) == ModuleSpec(name="")
    assert deployable_inputs(None) == [] and sensitive_names({}) == set()


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "x", "version": SPEC_VERSION + 1}, "version 3"),
    ({"name": "x", "valid": False, "problems": [], "files": []}, "invalid module"),
])
def test_what_cannot_be_a_spec_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_spec(data)


def test_the_readers_take_the_typed_spec_or_its_stored_json_alike() -> None:
    spec = example("ml-notebook")
    data = as_version_1(stored(spec))
    assert sensitive_names(spec) == sensitive_names(data)
    assert deployable_inputs(spec) == deployable_inputs(data)
    assert sensitive_names(spec) == {variable.name for variable in spec.inputs if variable.sensitive} != set()
