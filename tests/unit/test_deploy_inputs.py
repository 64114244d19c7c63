"""A module's inputs as a deploy form, on the example modules."""

from __future__ import annotations

from pathlib import Path

from core.modules.inputs import MASK, check_values, default_shown, deployable_inputs, shown, steps
from core.modules.parser import ModuleSpec, parse_module
from core.modules.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "modules"


def spec(name: str) -> ModuleSpec:
    parsed = parse_module(name, {p.name: p.read_bytes() for p in (EXAMPLES / name).glob("*.tf")})
    assert isinstance(parsed, ModuleSpec)
    return load_spec(parsed.to_json())  # as the catalog stores and reads it


def test_steps_follow_the_uimeta_groups_and_skip_metadata() -> None:
    inputs = deployable_inputs(spec("ml-notebook"))
    names = [i.name for i in inputs]
    assert "credit_cost" not in names and "module_description" not in names
    groups = [[i.sort_key[0] for i in step] for step in steps(inputs)]  # untagged (None) sorts last
    assert all(len(set(g)) == 1 for g in groups) and [g[0] for g in groups] == sorted(g[0] for g in groups)


def test_values_are_checked_per_field() -> None:
    inputs = deployable_inputs(spec("ml-notebook"))
    by_name = {i.name: i for i in inputs}
    values, errors = check_values(inputs, {"machine_type": "n2-huge", "gpu_count": "two"})
    assert "must be one of" in errors["machine_type"] and "should be a number" in errors["gpu_count"]
    required = [i.name for i in inputs if i.required]
    assert all(name in errors for name in required)
    good = {i.name: default_shown(i) or "x" for i in inputs}
    good.update({"machine_type": "n2-standard-8", "gpu_count": "1"})
    for name, item in by_name.items():
        if item.kind == "json" and not default_shown(item):
            good[name] = "[]" if item.type.startswith(("list", "set")) else "{}"
    values, errors = check_values(inputs, good)
    assert errors == {"access_token": "The access token must be at least 12 characters long."}  # its validation
    values, errors = check_values(inputs, {**good, "access_token": "x" * 12})
    assert errors == {} and values["gpu_count"] == 1


def test_sensitive_inputs_have_no_default_shown_and_are_masked() -> None:
    sensitive = [i for i in deployable_inputs(spec("ml-notebook")) if i.sensitive]
    assert sensitive and all(default_shown(i) == "" for i in sensitive)
    assert shown(sensitive[0], "hunter2") == MASK


def test_a_form_shows_a_default_as_terraform_converts_it() -> None:
    parsed = parse_module("demo", {"main.tf": (
        b'variable "o" {\n  type = object({name = string, size = optional(number), zone = optional(string, "eu")})\n'
        b'  default = {name = "x"}\n}\nvariable "ttl" {\n  type = number\n  default = "60"\n}\n'
        b'variable "hour" {\n  default = 60 * 60\n}\n')})
    assert isinstance(parsed, ModuleSpec), str(parsed)
    by_name = {i.name: i for i in deployable_inputs(load_spec(parsed.to_json()))}
    assert default_shown(by_name["o"]) == '{"name": "x", "size": null, "zone": "eu"}'
    assert (default_shown(by_name["ttl"]), default_shown(by_name["hour"])) == ("60", "3600")
    values, errors = check_values(list(by_name.values()), {})
    assert errors == {} and values == {"o": {"name": "x", "size": None, "zone": "eu"}, "ttl": 60, "hour": 3600}


def test_group_zero_inputs_are_never_asked() -> None:
    parsed = parse_module("demo", {"main.tf": (
        b'variable "wiring" {\n  description = "{{UIMeta group=0}} set by the platform"\n  default = "x"\n}\n'
        b'variable "asked" {\n  description = "{{UIMeta group=1}}"\n}\n')})
    assert isinstance(parsed, ModuleSpec)
    assert [i.name for i in deployable_inputs(parsed)] == ["asked"]
