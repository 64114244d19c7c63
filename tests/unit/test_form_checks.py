"""A deploy form's checks: validation conditions evaluated here, values checked per field, long groups split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.modules.conditions import UNKNOWN, evaluate
from core.modules.inputs import VALUE_MAX, check_values, deployable_inputs, example, steps
from core.modules.model import Validation, Variable
from core.modules.parser import ModuleSpec, parse_module
from core.modules.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "modules"


CONDITION_CASES: list[tuple[str, Any, object]] = [
    ('contains(["a", "b"], var.v)', "a", True),
    ('contains(["a", "b"], var.v)', "c", False),
    ("can(cidrhost(var.v, 0))", "10.10.0.0/16", True),
    ("can(cidrhost(var.v, 0))", "not-a-cidr", False),
    ("can(cidrhost(var.v, 300))", "10.0.0.0/24", False),
    ('cidrnetmask(var.v) == "255.255.0.0"', "10.1.0.0/16", True),
    ("var.v >= 1 && var.v <= 8", 9, False),
    ("var.v >= 1 && var.v <= 8", 8, True),
    ("var.v > 0 && floor(var.v) == var.v", 1.5, False),
    ('can(regex("^[a-z][a-z0-9-]{2,30}$", var.v))', "Blog", False),
    ('can(regex("^[a-z][a-z0-9-]{2,30}$", var.v))', "blog", True),
    ('regex("^a", var.v) == "a"', "b", False),  # a failed regex outside can(): Terraform refuses the value too
    ('length(regexall("[0-9]", var.v)) >= 2', "a1b2", True),
    ('can(regex("^[a-z]+$", var.v))', "abc\n", False),  # RE2's $ is the very end
    ('can(regex("^\\\\d+$", var.v))', "١٢", False),  # RE2's \d is ASCII digits
    ('can(regex("^[^]x]+$", var.v))', "ab", True),
    ('can(regex("\\\\pL", var.v))', "a", UNKNOWN),  # Unicode classes: left to Terraform
    ("length(var.v) >= 12", "short", False),
    ("length(var.v) == 2", {"a": 1, "b": 2}, True),
    ('startswith(var.v, "gs://") && !endswith(var.v, "/")', "gs://bucket", True),
    ('startswith(var.v, "gs://") && !endswith(var.v, "/")', "gs://bucket/", False),
    ("alltrue([for team, quota in var.v : quota > 0])", {"a": 1, "b": 0}, False),
    ("alltrue([for team, quota in var.v : quota > 0])", {}, True),
    ("anytrue([for x in var.v : x == 3])", [1, 2, 3], True),
    ("alltrue([for x in var.v : can(tonumber(x))])", ["1", "x"], False),
    ("can([for x in var.v : tonumber(x)])", ["1", "2"], True),
    ("length([for k, on in var.v : k if on]) == 1", {"a": True, "b": False}, True),
    ("length({for k, on in var.v : k => on}) == 2", {"a": True, "b": False}, True),
    ('try(var.v.size, 0) < 5 && lookup(var.v, "name", "") != ""', {"name": "x"}, True),
    ("var.v.size > 2 ? true : false", {"size": 3}, True),
    ("var.v[1] == 2", [1, 2], True),
    ('var.v != "" && trimspace(var.v) == var.v', " padded ", False),
    ("var.v == 1", "1", False),  # == compares type and value, as in Terraform
    ("var.v > 2", "3", True),  # ordering converts strings to numbers
    ("length(distinct(var.v)) == length(var.v)", ["a", "b", "a"], False),
    ("var.v % 2 == 0", 7, False),
    ("var.v / 4 == 2.5", 10, True),
    ("contains([1, 2], var.v)", 2.0, True),
    ('substr(var.v, 0, 3) == "abc" && upper(var.v) == "ABCDEF"', "abcdef", True),
    ('length(split(",", var.v)) == 3', "a,b", False),
    ('join("-", sort(var.v)) == "a-b-c"', ["c", "a", "b"], True),
    ('cidrhost(var.v, -1) == "10.0.0.255"', "10.0.0.0/24", True),
    ('can(cidrnetmask(var.v))', "fd00::/8", False),  # IPv6 has no netmask
    ('lookup(var.v, "size", 0) > 1', {"name": "x"}, False),
    ('coalesce(var.v, "none") == "none"', "", True),
    ('replace(var.v, "/[0-9]+/", "#") == "a#b#"', "a12b3", True),
    ('alltrue([for k in keys(var.v) : startswith(k, "env_")])', {"env_a": 1, "b": 2}, False),
    ("length(flatten(var.v)) == 3", [[1], [2, 3]], True),
    ('var.v == null ? true : length(var.v) > 0', [], False),
    ("tonumber(var.v) > 3", "abc", False),  # an error outside can(): refused
    ('var.v == "" || regex("^a", var.v) == "a"', "", True),  # || and && stop when the left side decides
    ('var.v != "" && regex("^a", var.v) == "a"', "", False),
    ('length(var.v) == 0 || var.v[0] > 1', [], True),
    ("length(var.v) == 5", "héllo", True),
    ("length(var.v) <= 1", "e\u0301", UNKNOWN),  # one character to Terraform, two code points: left to it
    ("max(var.v...) < 10", [1, 2], UNKNOWN),  # expansion: left to Terraform
    ("var.v == var.other", "x", UNKNOWN),  # another variable
    ("var.v == local.name", "x", UNKNOWN),
    ("fileexists(var.v)", "/etc/passwd", UNKNOWN),  # not a pure function: never run here
    ('"${var.v}-x" == "a-x"', "a", UNKNOWN),  # templates
    ("var.v[*].name == []", [], UNKNOWN),  # splats
    ("var.v >=", 1, UNKNOWN),  # not even an expression
]
"""(condition on ``var.v``, value, what :func:`evaluate` says); the embedded Terraform agrees on the decided ones
(``tests/integration/test_conditions_agreement.py``)."""


@pytest.mark.parametrize(("condition", "value", "expected"), CONDITION_CASES)
def test_conditions_are_evaluated_like_terraform(condition: str, value: Any, expected: object) -> None:
    assert evaluate(condition, "v", value) is expected


def variable(name: str = "v", type_: str = "string", conditions: tuple[tuple[str, str], ...] = (),
             **more: Any) -> Variable:
    return Variable(name, type=type_, validations=tuple(Validation(c, m) for c, m in conditions), **more)


def test_each_bad_value_gets_its_own_message() -> None:
    size = variable("size", "number", (("var.size >= 1 && var.size <= 10", "The size must be 1 to 10."),))
    name = variable("name", "string", (('can(regex("^[a-z]+$", var.name))', "Lowercase letters only."),
                                       ("length(var.name) <= 8", "At most 8 letters.")))
    tags = variable("tags", "map(number)")
    note = variable("note", has_default=True, default="")
    values, errors = check_values([size, name, tags, note], {"size": "11", "name": "Abcdefghij", "tags": '["a"]',
                                                             "note": "x" * (VALUE_MAX + 1)})
    assert errors == {
        "size": "The size must be 1 to 10.",
        "name": "Lowercase letters only. At most 8 letters.",  # every failed block's error_message
        "tags": 'tags should be an object like {"key": "value"} (map(number))',
        "note": f"note is {VALUE_MAX + 1} characters long; at most {VALUE_MAX} fit in a form field",
    }
    _, errors = check_values([size, name, tags], {"size": "ten", "name": "", "tags": '{"a": "x"}'})
    assert errors == {"size": "size should be a number", "name": "name is required",
                      "tags": "tags (a) should be a number"}
    values, errors = check_values([size, name, tags, note], {"size": "10", "name": "abc", "tags": '{"a": 1}'})
    assert errors == {} and values == {"size": 10, "name": "abc", "tags": {"a": 1}, "note": ""}


def test_a_condition_that_cannot_be_evaluated_here_lets_the_value_through() -> None:
    item = variable("zone", "string", (("var.zone == var.region", "Must match the region."),
                                       ("length(var.zone) > 1", "Too short.")))
    assert check_values([item], {"zone": "ab"}) == ({"zone": "ab"}, {})
    assert check_values([item], {"zone": "a"})[1] == {"zone": "Too short."}


def test_the_example_modules_are_checked_by_their_own_validations() -> None:
    parsed = parse_module("network-plan", {p.name: p.read_bytes() for p in (EXAMPLES / "network-plan").glob("*.tf")})
    assert isinstance(parsed, ModuleSpec)
    inputs = deployable_inputs(load_spec(parsed.to_json()))
    _, errors = check_values(inputs, {"cidr_block": "10.0.0.0/33", "subnet_count": "0"})
    assert errors == {"cidr_block": "The address range must be a CIDR block such as 10.10.0.0/16.",
                      "subnet_count": "The subnet count must be between 1 and 8."}
    assert check_values(inputs, {"cidr_block": "10.0.0.0/16", "subnet_count": "8"})[1] == {}


def test_json_inputs_show_an_example_of_their_type() -> None:
    assert example(variable(type_="list(string)")) == '["text"]'
    assert example(variable(type_="map(number)")) == '{"key": 1}'
    assert json.loads(example(variable(type_="object({name = string, size = optional(number), on = bool})"))) == {
        "name": "text", "size": 1, "on": True}
    assert example(variable(type_="tuple([string, number])")) == '["text", 1]'
    assert example(variable(type_="list(string)", has_default=True, default=["b", "c"])) == '["b", "c"]'
    for type_ in ("list(object({port = number}))", "map(list(bool))", "set(string)"):
        item = variable(type_=type_)
        assert check_values([item], {"v": example(item)})[1] == {}, type_  # the example itself is accepted


def test_a_long_group_is_split_into_steps_that_each_fit_a_form() -> None:
    text = "".join(f'variable "v{n:03}" {{\n  description = "{{{{UIMeta group=1 order={n}}}}}"\n}}\n'
                   for n in range(120))
    text += 'variable "last" {\n  default = 1\n}\n'
    parsed = parse_module("wide", {"main.tf": text.encode()})
    assert isinstance(parsed, ModuleSpec)
    inputs = deployable_inputs(parsed)
    assert [len(s) for s in steps(inputs)] == [120, 1]
    split = steps(inputs, 50)
    assert [len(s) for s in split] == [50, 50, 20, 1]
    assert [i.name for s in split for i in s] == [i.name for i in inputs]  # every input once, in order
