"""A module's inputs as a deploy form, on the example modules."""

from __future__ import annotations

from pathlib import Path

from core.modules.inputs import MASK, check_values, deployable_inputs, shown, steps
from core.modules.parser import ModuleSpec, parse_module

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "modules"


def spec(name: str) -> dict[str, object]:
    parsed = parse_module(name, {p.name: p.read_bytes() for p in (EXAMPLES / name).glob("*.tf")})
    assert isinstance(parsed, ModuleSpec)
    return parsed.to_json()


def test_steps_follow_the_uimeta_groups_and_skip_metadata() -> None:
    inputs = deployable_inputs(spec("ml-notebook"))
    names = [i.name for i in inputs]
    assert "credit_cost" not in names and "module_description" not in names
    groups = [[i.group for i in step] for step in steps(inputs)]
    assert all(len(set(g)) == 1 for g in groups) and [g[0] for g in groups] == sorted(g[0] for g in groups)


def test_values_are_checked_per_field() -> None:
    inputs = deployable_inputs(spec("ml-notebook"))
    by_name = {i.name: i for i in inputs}
    values, errors = check_values(inputs, {"machine_type": "n2-huge", "gpu_count": "two"})
    assert "must be one of" in errors["machine_type"] and "should be a number" in errors["gpu_count"]
    required = [i.name for i in inputs if i.required]
    assert all(name in errors for name in required)
    good = {i.name: i.default_text() or "x" for i in inputs}
    good.update({"machine_type": "n2-standard-8", "gpu_count": "1"})
    for name, item in by_name.items():
        if item.kind == "json" and not item.default_text():
            good[name] = "[]" if item.type.startswith(("list", "set")) else "{}"
    values, errors = check_values(inputs, good)
    assert errors == {} and values["gpu_count"] == 1


def test_sensitive_inputs_have_no_default_shown_and_are_masked() -> None:
    sensitive = [i for i in deployable_inputs(spec("ml-notebook")) if i.sensitive]
    assert sensitive and all(i.default_text() == "" for i in sensitive)
    assert shown(sensitive[0], "hunter2") == MASK
