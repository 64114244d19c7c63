"""The module parser agrees with Terraform on what loads: the cases a survey of public modules found.

Each case says what Terraform does; ``tests/integration/test_terraform_agreement.py`` loads the same folders
with the real embedded Terraform and checks that claim.
"""

from __future__ import annotations

import pytest

from core.hcl.fast import parse_fast
from core.modules.model import Variable
from core.modules.parser import InvalidModule, ModuleSpec, parse_module

# name -> (files, Terraform loads it?, for a refusal: (file, line, words of the reason)); shared with the
# integration test, which checks the Terraform half of each claim
TERRAFORM_CASES: dict[str, tuple[dict[str, str], bool, tuple[str, int, str] | None]] = {
    "call-after-newline-in-brackets": ({"main.tf": (
        'variable "x" {\n  default = null\n}\n'
        'locals {\n  l = [try\n(var.x, null)]\n  p = (try\n(var.x, 1))\n}\n'
    )}, True, None),
    "default-of-the-wrong-type": ({"main.tf": 'variable "n" {\n  type = number\n  default = "abc"\n}\n'},
                                  False, ("main.tf", 3, "does not fit the type number: it should be a number")),
    "default-missing-an-object-attribute": ({"main.tf": (
        'variable "o" {\n  type = object({a = string, b = optional(number)})\n  default = {b = 1}\n}\n'
    )}, False, ("main.tf", 3, "at a: it is required")),
    "null-default-when-not-nullable": ({"main.tf": 'variable "n" {\n  nullable = false\n  default = null\n}\n'},
                                       False, ("main.tf", 3, "null default is not valid when nullable = false")),
    "duplicate-local-across-files": ({"a.tf": "locals {\n  a = 1\n}\n", "b.tf": "locals {\n  b = 0\n  a = 2\n}\n"},
                                     False, ("b.tf", 3, 'local value "a" is declared again (first in a.tf line 2)')),
    "duplicate-local-in-one-block": ({"main.tf": "locals {\n  a = 1\n  a = 2\n}\n"},
                                     False, ("main.tf", 3, 'local value "a" is declared again')),
    "duplicate-resource-across-files": ({"a.tf": 'resource "terraform_data" "r" {}\n',
                                         "b.tf": '\nresource "terraform_data" "r" {}\n'},
                                        False, ("b.tf", 2, 'resource "terraform_data" "r" is declared again '
                                                           "(first in a.tf line 1)")),
    "duplicate-module-call": ({"main.tf": 'module "m" {\n  source = "./x"\n}\nmodule "m" {\n  source = "./y"\n}\n'},
                              False, ("main.tf", 4, 'module call "m" is declared again (first in main.tf line 1)')),
    "same-name-different-kinds": ({"main.tf": (
        'resource "terraform_data" "r" {}\ndata "terraform_remote_state" "r" {\n  backend = "local"\n}\n'
        'resource "terraform_data" "s" {}\nlocals {\n  r = 1\n}\n'
    )}, True, None),
    "default-with-an-attribute-the-type-lacks": ({"main.tf": (
        'variable "o" {\n  type = object({a = string})\n  default = {a = "x", extra = 1}\n}\n')}, True, None),
    "constant-expression-defaults": ({"main.tf": (
        'variable "t" {\n  default = 60 * 60\n}\nvariable "m" {\n  default = -7 % 3\n}\n'
        'variable "l" {\n  type = list(number)\n  default = [1 + 1, (2 + 3) * 4, 7 / 2]\n}\n'
        'variable "i" {\n  default = [10, 20][1]\n}\n'
    )}, True, None),
}


def module(files: dict[str, str]) -> ModuleSpec | InvalidModule:
    return parse_module("demo", {name: text.encode() for name, text in files.items()})


def defaults(files: dict[str, str]) -> dict[str, object]:
    result = module(files)
    assert isinstance(result, ModuleSpec), str(result)
    return {variable.name: variable.default for variable in result.inputs}


@pytest.mark.parametrize("name", sorted(TERRAFORM_CASES))
def test_the_parser_loads_what_terraform_loads_and_refuses_what_it_refuses(name: str) -> None:
    files, loads, refusal = TERRAFORM_CASES[name]
    result = module(files)
    if loads:
        assert isinstance(result, ModuleSpec), str(result)
        return
    assert isinstance(result, InvalidModule) and refusal is not None
    file, line, words = refusal
    assert [(problem.file, problem.line) for problem in result.problems] == [(file, line)], result.reason
    assert words in result.problems[0].reason


def test_a_call_after_a_newline_inside_brackets_is_read_by_the_fast_reader() -> None:
    body = parse_fast('a = [try\n(var.x, null)]\nb = f(g\n(1))\n')
    assert [(attribute.name, attribute.text) for attribute in body.attributes] == [
        ("a", "[try\n(var.x, null)]"), ("b", "f(g\n(1))")]


@pytest.mark.parametrize("text", ["a = try\n(1)\n", "a = {k = try\n(1)}\n"])
def test_outside_brackets_a_newline_still_ends_the_expression(text: str) -> None:
    # Terraform too: at the top level and between object elements a newline ends the value
    assert isinstance(module({"main.tf": text}), InvalidModule)


@pytest.mark.parametrize(("default", "value"), [
    ("60 * 60", 3600), ("-7 % 3", -1), ("7 % -3", 1), ("7 / 2", 3.5), ("6 / 2", 3), ("1.5 * 2", 3),
    ("-(2 + 3)", -5), ("2 + 3 * 4", 14), ('"plain"', "plain"), ('"$${not} %%{a template}"', "${not} %{a template}"),
    ("[1, 2 * 2, {a = 10 - 1}]", [1, 4, {"a": 9}]), ("1 < 2 && !false", True), ("2 > 1 ? \"yes\" : \"no\"", "yes"),
    ("{\n  a = 1\n  b = [2 + 2]\n}", {"a": 1, "b": [4]}), ("[10, 20][1]", 20), ('{a = 1}["a"]', 1),
])
def test_constant_expression_defaults_are_evaluated(default: str, value: object) -> None:
    assert defaults({"main.tf": f'variable "v" {{\n  default = {default}\n}}\n'}) == {"v": value}


@pytest.mark.parametrize("default", ["1 / 0", '"${var.x}"', 'upper("x")', "local.a + 1", '"a" + 1'])
def test_expressions_that_are_not_constants_are_refused(default: str) -> None:
    result = module({"main.tf": f'variable "v" {{\n  default = {default}\n}}\n'})
    assert isinstance(result, InvalidModule) and "the default must be a constant value" in result.reason


def test_defaults_are_converted_to_their_type_as_terraform_converts_them() -> None:
    spec = module({"main.tf": (
        'variable "n" {\n  type = number\n  default = "3"\n}\n'
        'variable "s" {\n  type = string\n  default = 5\n}\n'
        'variable "o" {\n  type = object({\n    name = string\n    size = optional(number)\n'
        '    zone = optional(string, "eu")\n    tags = optional(map(string), {})\n  })\n  default = {name = "x"}\n}\n'
        'variable "l" {\n  type = list(object({a = optional(bool, true)}))\n  default = [{}, {a = false}]\n}\n'
    )})
    assert isinstance(spec, ModuleSpec), str(spec)
    by_name: dict[str, Variable] = {variable.name: variable for variable in spec.inputs}
    assert by_name["n"].default == 3 and by_name["s"].default == "5"
    assert by_name["o"].default == {"name": "x", "size": None, "zone": "eu", "tags": {}}
    assert by_name["o"].default_text == '{name = "x"}'  # as written, for whoever wants the source
    assert by_name["l"].default == [{"a": True}, {"a": False}]


def test_an_attribute_the_object_type_lacks_is_dropped_from_a_default_as_terraform_drops_it() -> None:
    files = TERRAFORM_CASES["default-with-an-attribute-the-type-lacks"][0]
    assert defaults(files) == {"o": {"a": "x"}}


def test_a_default_refused_for_its_type_names_file_line_and_reason() -> None:
    result = module({"ok.tf": 'variable "a" {}\n', "vars.tf": (
        'variable "zones" {\n  type = list(string)\n  default = ["a", ["b"]]\n}\n')})
    assert isinstance(result, InvalidModule)
    assert str(result.problems[0]) == ('vars.tf line 3: variable "zones": the default does not fit the type '
                                       "list(string) at [1]: it should be text")
