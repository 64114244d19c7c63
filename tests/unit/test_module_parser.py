"""The Terraform module parser: files, variables, metadata, UIMeta tags, names, JSON round trips and speed."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest

from core.hcl.fast import parse_fast
from core.hcl.lexer import LexError, RefusedByTerraform
from core.hcl.reference import parse_reference
from core.hcl.tree import HclSyntaxError
from core.modules import parser as module_parser
from core.modules.model import PARSER_VERSION
from core.modules.parser import (
    MAX_FILE_BYTES,
    FileParse,
    InvalidModule,
    ModuleSpec,
    Variable,
    assemble,
    module_from_json,
    parse_file,
    parse_module,
    too_large,
    valid_name,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "modules"
EXAMPLE_NAMES = ["budget-alerts", "data-bucket", "ml-notebook", "network-plan", "static-site"]
METADATA = {"module_description", "module_documentation", "credit_cost", "require_credit_purchases",
            "public_access", "module_dependency"}


def example(name: str) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (EXAMPLES / name).iterdir()}


def spec(name: str) -> ModuleSpec:
    result = parse_module(name, example(name))
    assert isinstance(result, ModuleSpec), str(result)
    return result


def one_variable(hcl: str) -> Variable:
    parse = parse_file("variables.tf", hcl.encode())
    assert parse.problem is None, str(parse.problem)
    (variable,) = parse.variables
    return variable


def module_of(**files: str) -> ModuleSpec | InvalidModule:
    return parse_module("demo", {name.replace("_", "."): text.encode() for name, text in files.items()})


def invalid(result: ModuleSpec | InvalidModule) -> InvalidModule:
    assert isinstance(result, InvalidModule), result
    return result


# -- the example modules ---------------------------------------------------------------------------------

def test_the_examples_are_the_five_expected_modules_with_every_file() -> None:
    assert sorted(path.name for path in EXAMPLES.iterdir()) == EXAMPLE_NAMES
    for name in EXAMPLE_NAMES:
        assert set(example(name)) == {"variables.tf", "main.tf", "outputs.tf", "README.md"}
        assert spec(name).files == ("main.tf", "outputs.tf", "variables.tf")  # README.md is not read


def test_example_metadata() -> None:
    bucket, notebook, network = spec("data-bucket"), spec("ml-notebook"), spec("network-plan")
    assert bucket.credit_cost == Decimal("120.5") and type(bucket.credit_cost) is Decimal
    assert bucket.require_credit_purchases and bucket.public_access
    assert notebook.dependencies == ("network-plan", "data-bucket")
    assert spec("static-site").dependencies == ("network-plan",)
    assert not spec("static-site").public_access
    assert network.documentation == "https://docs.example.com/modules/network-plan"
    assert network.description.startswith("Plans a private network")
    assert spec("budget-alerts").credit_cost == 0
    assert notebook.description.startswith("Plans a machine-learning notebook")  # a heredoc, tag at its start


def test_example_inputs_exclude_metadata_and_are_sorted_by_group_order_name() -> None:
    for name in EXAMPLE_NAMES:
        inputs = spec(name).inputs
        assert not {variable.name for variable in inputs} & METADATA
        assert [variable.sort_key for variable in inputs] == sorted(variable.sort_key for variable in inputs)
        assert len({variable.group for variable in inputs}) >= 2
    assert [v.name for v in spec("network-plan").inputs] == [
        "region", "network_name", "cidr_block", "subnet_count", "zones", "enable_nat"]


def test_example_inputs_cover_every_kind() -> None:
    by_name = {v.name: v for name in EXAMPLE_NAMES for v in spec(name).inputs}
    assert by_name["region"].kind == "choice"
    assert by_name["region"].choices == ("europe-west1", "us-central1", "asia-east1")
    assert by_name["storage_class"].choices == ("STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE")
    assert (by_name["subnet_count"].kind, by_name["subnet_count"].nullable) == ("number", False)
    assert by_name["enable_nat"].kind == "bool"
    assert (by_name["zones"].type, by_name["zones"].kind) == ("list(string)", "json")
    assert (by_name["thresholds"].type, by_name["thresholds"].default) == (
        "map(number)", {"warning": 50, "critical": 90, "over": 100})
    assert by_name["notebook"].type == ("object({image = string, idle_shutdown_minutes = optional(number, 60), "
                                        "packages = optional(list(string), [])})")
    token = by_name["access_token"]
    assert token.sensitive and token.required and token.kind == "text" and token.group == 3
    assert by_name["webhook_secret"].sensitive and not by_name["webhook_secret"].required
    assert by_name["cache_ttl_seconds"].validations[0].condition == (
        "var.cache_ttl_seconds >= 0 && var.cache_ttl_seconds <= 86400")


def test_example_outputs() -> None:
    outputs = {o.name: o for o in spec("ml-notebook").outputs}
    assert outputs["notebook_url"].sensitive and not outputs["instance_name"].sensitive
    assert outputs["gpu_count"].description == "GPUs attached."


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_fast_reader_matches_python_hcl2_on_the_examples(name: str) -> None:
    for filename, content in example(name).items():
        if filename.endswith(".tf"):
            assert parse_fast(content.decode()) == parse_reference(content.decode()), filename


SNIPPETS = [
    'a = "x\\n\\"y\\" \\u00e9 $${literal} %%{literal}"\n',
    "a = -1.5e3\nb = [1, -2, 3.25, true, null]\nc = { \"k 1\" = 1, k2 = [] }\n",
    'a = <<EOT\n  hello ${"x"}\n  EOT\nb = <<-EOT\n    one\n      two\n    EOT\n',
    'a = { for k, v in var.m : k => v... if v != null }\nb = [for x in var.l : x * 2]\n',
    'a = var.x[0].y[*].z\nb = var.l.*.id\nc = provider::p::f(1, 2)\nd = f([1, 2]...)\n',
    'a = "%{ if var.on ~}yes%{ else }no%{ endif }"\nb = "%{ for x in var.l }${x},%{ endfor }"\n',
    'a = (1 + 2) * 3 > 4 ? "big" : "small"\nb = !var.x || var.y && var.z\n',
    'variable "v" {\n  type = object({\n    a = string # note\n    b = optional(number, 1),\n  })\n}\n',
    'block "one" two {\n  inner {\n    x = 1\n  }\n}\nsingle { a = 1 }\nempty {}\n',
    "a = {\n  x = 1,\n  y = 2\n\n  z = { nested = [\n    1,\n    2,\n  ] }\n}\n",
]


@pytest.mark.parametrize("text", SNIPPETS)
def test_fast_reader_matches_python_hcl2(text: str) -> None:
    assert parse_fast(text) == parse_reference(text)


# -- robustness: malformed, binary, huge, empty ------------------------------------------------------------

@pytest.mark.parametrize(("text", "line", "reason"), [
    ('variable "a" {\n  type = string\n', 3, "a closing } is missing"),
    ('variable "a" {\n  type = string\n  default = ]\n}\n', 3, "unexpected ']'"),
    ('variable "a" {\n  default = 1 @ 2\n}\n', 2, "unexpected '@'"),
    ('variable "a" {\n  default = "abc\n}\n', 2, "a quoted string cannot span lines"),
    ('variable "a" {\n}\n}\n', 3, "no block is open here"),
    ('locals {\n  a = { é = 1 }\n}\n', 2, "unexpected 'é'"),
])
def test_malformed_hcl_reports_the_line_and_a_short_reason(text: str, line: int, reason: str) -> None:
    problem = parse_file("broken.tf", text.encode()).problem
    assert problem is not None
    assert (problem.file, problem.line) == ("broken.tf", line)
    assert reason in problem.reason and len(problem.reason) < 80
    assert str(problem).startswith(f"broken.tf line {line}: ")


@pytest.mark.parametrize("content", [b"\x7fELF\x02\x01\x00\x00binary", b"variable \xff\xfe {}", b"a = 1\x00\n"])
def test_binary_files_are_not_text(content: bytes) -> None:
    problem = parse_file("blob.tf", content).problem
    assert problem is not None and problem.line is None and problem.reason.startswith("not a text file")


def test_huge_files_are_refused_without_being_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(_text: str) -> None:
        raise AssertionError("a huge file was parsed")

    monkeypatch.setattr(module_parser, "read_body", never)
    problem = parse_file("huge.tf", b"# " + b"x" * (MAX_FILE_BYTES + 300_000) + b"\n").problem
    assert problem is not None and problem.line is None
    assert problem.reason.startswith("too large to read (1.3 MB")
    assert too_large("huge.tf", 5 << 20).problem == parse_file("huge.tf", b" " * (5 << 20)).problem


@pytest.mark.parametrize("text", ["", "\n\n# only a comment\n", 'locals {\n  a = 1\n}\nterraform {\n}\n'])
def test_files_without_variables_or_outputs_are_fine(text: str) -> None:
    parse = parse_file("main.tf", text.encode())
    assert (parse.variables, parse.outputs, parse.problem, parse.findings) == ((), (), None, ())


def test_crlf_and_a_byte_order_mark_are_read() -> None:
    variable = one_variable('\ufeffvariable "a" {\r\n  default = "x"\r\n}\r\n')
    assert (variable.default, variable.line) == ("x", 1)


def test_deep_nesting_and_parser_bugs_never_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = parse_file("deep.tf", ("a = " + "[" * 5000 + "]" * 5000 + "\n").encode())
    assert deep.problem is not None or deep == FileParse("deep.tf")

    def broken(_filename: str, _body: object) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(module_parser, "read_declarations", broken)
    problem = parse_file("x.tf", b'variable "a" {}\n').problem
    assert problem is not None and "internal parser error" in problem.reason


# Every kind of input where the fast reader and python-hcl2 disagree, what Terraform does, and what the parser
# does: name -> (text, fast reader accepts, python-hcl2 accepts, Terraform accepts, the parser accepts).
# tests/integration/test_terraform_agreement.py checks the Terraform column with the embedded Terraform.
READER_DISAGREEMENTS: dict[str, tuple[str, bool, bool, bool, bool]] = {
    # Inside ( ) and [ ] newlines are insignificant, also between a function's name and its "(": python-hcl2's
    # grammar wants them together. The parser takes the fast reader's tree, as Terraform reads it.
    "a call after a newline inside brackets": (
        'locals {\n  a = [try\n(var.x, null)]\n  b = (max\n(1, 2))\n}\n', True, False, True, True),
    # Terraform: "Invalid multi-line string". python-hcl2 reads it; the fast reader knows Terraform refuses it
    # (RefusedByTerraform), so the parser refuses it at the string's line without asking python-hcl2.
    "a newline inside a quoted string": ('variable "b" {\n  description = "x\ny"\n}\n', False, True, False, False),
    # Terraform: "Invalid escape sequence"; python-hcl2 keeps the backslash. Refused like the one above.
    "an invalid escape in a quoted string": ('variable "b" {\n  description = "a\\k"\n}\n', False, True, False, False),
    # Terraform: "Argument or block definition required" (a newline ends the attribute). python-hcl2 reads
    # `1 + 2`. A known leniency: the parser follows python-hcl2 for what the fast reader declines, and the
    # module fails when Terraform loads it at deploy time.
    "an operator starting a line": ('locals {\n  a = 1\n    + 2\n}\n', False, True, False, True),
    # Terraform: "Missing newline after argument"; python-hcl2 reads both. The same leniency.
    "two arguments on one line": ('locals {\n  a = [1]  b = 2\n}\n', False, True, False, True),
    # Terraform: "Invalid block definition" (the { must be on the header's line); python-hcl2 reads it. The same.
    "a block's { on the next line": ('locals\n{\n  a = 1\n}\n', False, True, False, True),
}
# the fast reader's reason for each kind it declines, to sort the disagreements the fuzz finds
DECLINED_BECAUSE = {
    "a quoted string cannot span lines": "a newline inside a quoted string",
    "invalid escape": "an invalid escape in a quoted string",
    "expected an argument or a block": "an operator starting a line",
    "expected a new line": "two arguments on one line",
    "expected '=' or '{'": "a block's { on the next line",
}


def accepts(read: object, text: str) -> bool:
    try:
        read(text)  # type: ignore[operator]
    except (LexError, HclSyntaxError):
        return False
    return True


@pytest.mark.parametrize("name", sorted(READER_DISAGREEMENTS))
def test_every_disagreement_of_the_readers_is_listed_with_the_parser_verdict(name: str) -> None:
    text, fast, reference, _terraform, parser = READER_DISAGREEMENTS[name]
    assert (accepts(parse_fast, text), accepts(parse_reference, text)) == (fast, reference)
    assert (parse_file("main.tf", text.encode()).problem is None) == parser


def test_the_fast_tree_is_used_where_python_hcl2_refuses_what_terraform_reads() -> None:
    text = READER_DISAGREEMENTS["a call after a newline inside brackets"][0]
    assert module_parser.read_body(text) == parse_fast(text)


def test_a_newline_in_a_quoted_string_is_refused_at_the_string() -> None:
    problem = parse_file("main.tf", b'variable "b" {\n  type = string\n  description = "x\ny"\n}\n').problem
    assert problem is not None and (problem.line, problem.reason) == (3, "a quoted string cannot span lines "
                                                                          "(use a heredoc)")


def disagreement_kind(text: str) -> str:
    """Which listed disagreement a text where the readers disagree falls under (AssertionError if none)."""
    try:
        parse_fast(text)
    except LexError as error:
        kinds = [kind for reason, kind in DECLINED_BECAUSE.items() if reason in error.reason]
        assert kinds, f"the readers disagree on an unlisted kind of input ({error.reason}):\n{text}"
        assert isinstance(error, RefusedByTerraform) == (not READER_DISAGREEMENTS[kinds[0]][4])
        return kinds[0]
    else:
        assert re.search(r"[A-Za-z_][A-Za-z0-9_-]*[ \t]*\n\s*\(", text), text
        return "a call after a newline inside brackets"


def test_mangled_files_never_raise_and_the_readers_agree_or_disagree_only_as_listed() -> None:
    texts = [path.read_text() for path in sorted(EXAMPLES.rglob("*.tf"))]
    pieces = [*'{}[]()"=\n ,.:?$%<>-#/*\\~', "${", "%{", "<<EOT\n", "EOT\n", "for ", "é", "\x00"]
    rng = random.Random(20261121)
    seen: dict[str, int] = {}
    for _ in range(400):
        text = rng.choice(texts)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice(pieces) + text[at + rng.randint(0, 3):]
        parse_file("mangled.tf", text.encode("utf-8", "replace"))
        fast, reference = accepts(parse_fast, text), accepts(parse_reference, text)
        if fast and reference:
            assert parse_fast(text) == parse_reference(text), text
        elif fast != reference:
            kind = disagreement_kind(text)
            assert READER_DISAGREEMENTS[kind][1:3] == (fast, reference), text
            seen[kind] = seen.get(kind, 0) + 1
    assert seen.get("a newline inside a quoted string", 0) > 0  # the fuzz does reach a disagreement


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("variable {\n}\n", 1, "needs exactly one name"),
    ('variable "a" "b" {\n}\n', 1, "needs exactly one name"),
    ('variable "count" {\n}\n', 1, "reserved"),
    ('variable "a" {\n  sensitive = var.x\n}\n', 2, "sensitive must be true or false"),
    ('variable "a" {\n  nullable = "no"\n}\n', 2, "nullable must be true or false"),
    ('variable "a" {\n  description = "${var.x}"\n}\n', 2, "description must be a literal string"),
    ('variable "a" {\n  type = string\n  type = number\n}\n', 3, "set twice"),
    ('variable "a" {\n  default = upper("x")\n}\n', 2, "the default must be a constant value"),
    ('variable "a" {\n  default = var.b * 2\n}\n', 2, "the default must be a constant value"),
    ('variable "a" {\n  validation {\n    error_message = "x"\n  }\n}\n', 2, "needs a condition"),
    ('output "a" {\n  description = "x"\n}\n', 1, "needs a value"),
])
def test_declarations_terraform_would_refuse(text: str, line: int, reason: str) -> None:
    problem = parse_file("variables.tf", text.encode()).problem
    assert problem is not None and problem.line == line and reason in problem.reason


# -- variables -------------------------------------------------------------------------------------------

def test_a_variable_with_nothing_set() -> None:
    variable = one_variable('variable "plain" {}\n')
    assert (variable.type, variable.kind, variable.required, variable.has_default) == ("any", "json", True, False)
    assert (variable.sensitive, variable.nullable, variable.group, variable.order) == (False, True, None, None)


def test_null_default_differs_from_no_default() -> None:
    variable = one_variable('variable "a" {\n  type = string\n  default = null\n}\n')
    assert variable.has_default and variable.default is None and not variable.required
    assert variable.default_text == "null"


def test_literal_defaults_are_json_values() -> None:
    variable = one_variable(
        'variable "a" {\n  default = {\n    name = "x\\ty"\n    sizes = [1, -2.5, 1e3]\n'
        '    "odd key" = { on = true, off = null }\n    text = <<-EOT\n      one\n        two\n      EOT\n  }\n}\n'
    )
    assert variable.default == {"name": "x\ty", "sizes": [1, -2.5, 1000.0], "odd key": {"on": True, "off": None},
                                "text": "one\n  two\n"}
    assert json.loads(json.dumps(variable.default)) == variable.default


def test_sensitive_nullable_and_validations_are_kept() -> None:
    variable = one_variable(
        'variable "size" {\n  type = number\n  sensitive = true\n  nullable = false\n'
        '  validation {\n    condition = (\n      var.size >= 1 &&\n      var.size <= 9\n    )\n'
        '    error_message = "Between 1 and 9."\n  }\n'
        '  validation {\n    condition = floor(var.size) == var.size\n    error_message = "Got ${var.size}."\n  }\n}\n'
    )
    assert (variable.sensitive, variable.nullable, variable.kind) == (True, False, "number")
    assert [(v.condition, v.error_message) for v in variable.validations] == [
        ("(\n      var.size >= 1 &&\n      var.size <= 9\n    )", "Between 1 and 9."),
        ("floor(var.size) == var.size", '"Got ${var.size}."'),  # not a literal: kept as written
    ]


@pytest.mark.parametrize(("type_text", "expected", "kind"), [
    ("string", "string", "text"),
    ("number", "number", "number"),
    ("bool", "bool", "bool"),
    ("list(string)", "list(string)", "json"),
    ("set( string )", "set(string)", "json"),
    ("map(number)", "map(number)", "json"),
    ("tuple([string, number])", "tuple([string, number])", "json"),
    ("object({\n    name = string\n    size = optional(number)\n  })",
     "object({name = string, size = optional(number)})", "json"),
    ("any", "any", "json"),
])
def test_types_are_terraform_text_and_pick_a_widget(type_text: str, expected: str, kind: str) -> None:
    variable = one_variable(f'variable "v" {{\n  type = {type_text}\n}}\n')
    assert (variable.type, variable.kind) == (expected, kind)


def test_an_untyped_variable_takes_the_kind_of_a_scalar_default() -> None:
    assert one_variable('variable "v" {\n  default = "x"\n}\n').kind == "text"
    assert one_variable('variable "v" {\n  default = 3\n}\n').kind == "number"
    assert one_variable('variable "v" {\n  default = false\n}\n').kind == "bool"
    assert one_variable('variable "v" {\n  default = [1]\n}\n').kind == "json"


@pytest.mark.parametrize(("description", "text", "group", "order", "flags"), [
    ("Region {{UIMeta group=1 order=2}}", "Region", 1, 2, ()),
    ("{{UIMeta group=0 order=7}} Card text", "Card text", 0, 7, ()),
    ("A {{ UIMeta  order=3 group=2 updatesafe }} B", "A B", 2, 3, ("updatesafe",)),
    ("No tag here", "No tag here", None, None, ()),
    ("Bad {{UIMeta group=x order=5}}", "Bad", None, 5, ()),
    ("Two {{UIMeta group=1 order=1}}{{UIMeta group=9 order=9}}", "Two", 1, 1, ()),
])
def test_uimeta_tags(description: str, text: str, group: int | None, order: int | None,
                     flags: tuple[str, ...]) -> None:
    variable = one_variable(f'variable "v" {{\n  description = "{description}"\n}}\n')
    assert (variable.description, variable.group, variable.order, variable.ui_flags) == (text, group, order, flags)


def test_untagged_inputs_come_after_tagged_ones_and_group_zero_is_hidden() -> None:
    result = module_of(variables_tf=(
        'variable "zeta" {}\nvariable "alpha" {}\n'
        'variable "late" {\n  description = "{{UIMeta group=2 order=1}}"\n}\n'
        'variable "early" {\n  description = "{{UIMeta group=1 order=5}}"\n}\n'
        'variable "wiring" {\n  description = "{{UIMeta group=0 order=1}}"\n  default = ""\n}\n'
    ))
    assert isinstance(result, ModuleSpec)
    assert [v.name for v in result.inputs] == ["wiring", "early", "late", "alpha", "zeta"]
    assert [v.hidden for v in result.inputs] == [True, False, False, False, False]


@pytest.mark.parametrize(("variable_hcl", "choices"), [
    ('type = string\n  validation {\n    condition = contains(["a", "b"], var.v)\n    error_message = "x"\n  }',
     ("a", "b")),
    ('type = string\n  validation {\n    condition = contains([\n      "a",\n      "b",\n    ], var.v)\n'
     '    error_message = "x"\n  }', ("a", "b")),
    ('type = number\n  validation {\n    condition = contains([1, 2], var.v)\n    error_message = "x"\n  }', ()),
    ('type = string\n  validation {\n    condition = contains(["a"], var.v) && var.v != ""\n'
     '    error_message = "x"\n  }', ()),
    ('type = string\n  validation {\n    condition = contains(["a"], var.other)\n    error_message = "x"\n  }', ()),
    ('type = string\n  validation {\n    condition = contains(local.allowed, var.v)\n    error_message = "x"\n  }',
     ()),
    ('type = string\n  validation {\n    condition = length(var.v) > 2\n    error_message = "x"\n  }\n'
     '  validation {\n    condition = contains(["x", "y", "x"], var.v)\n    error_message = "x"\n  }', ("x", "y")),
])
def test_choices_come_from_a_contains_validation_over_a_string(variable_hcl: str, choices: tuple[str, ...]) -> None:
    variable = one_variable(f'variable "v" {{\n  {variable_hcl}\n}}\n')
    assert variable.choices == choices
    assert variable.kind == ("choice" if choices else "number" if variable.type == "number" else "text")


# -- modules and metadata --------------------------------------------------------------------------------

@pytest.mark.parametrize(("default", "expected"), [
    ("50", Decimal(50)), ("0.1", Decimal("0.1")), ("12.3456", Decimal("12.3456")), ('"75"', Decimal(75)),
    ("1e2", Decimal(100)), ("null", Decimal(0)), ("99999999999999.9999", Decimal("99999999999999.9999")),
])
def test_credit_cost_is_an_exact_decimal(default: str, expected: Decimal) -> None:
    result = module_of(variables_tf=f'variable "credit_cost" {{\n  default = {default}\n}}\n')
    assert isinstance(result, ModuleSpec) and type(result.credit_cost) is Decimal
    assert result.credit_cost == expected and str(result.credit_cost) == str(expected)


def test_metadata_defaults_when_not_declared() -> None:
    result = module_of(main_tf='locals {\n  a = 1\n}\n')
    assert isinstance(result, ModuleSpec)
    assert (result.credit_cost, result.public_access, result.require_credit_purchases) == (Decimal(0), False, False)
    assert (result.description, result.documentation, result.dependencies, result.declared) == ("", "", (), ())


@pytest.mark.parametrize(("name", "default", "reason"), [
    ("credit_cost", '"lots"', 'metadata variable "credit_cost" must be a number, not "lots"'),
    ("credit_cost", "-5", "of 0 or more"),
    ("credit_cost", "1.23456", "at most 4 decimal places"),
    ("credit_cost", "true", "must be a number"),
    ("public_access", '"yes"', 'metadata variable "public_access" must be true or false'),
    ("require_credit_purchases", "1", "must be true or false"),
    ("module_dependency", '"network-plan"', "must be a list of module names"),
    ("module_dependency", '["ok", 3]', "must be a list of module names"),
    ("module_dependency", '["demo"]', "lists the module itself"),
    ("module_description", "42", "must be a string"),
    ("module_documentation", '"docs/README.md"', "must be an http(s) URL"),
])
def test_wrong_metadata_makes_the_module_invalid(name: str, default: str, reason: str) -> None:
    hcl = f'variable "other" {{}}\n\nvariable "{name}" {{\n  default = {default}\n}}\n'
    result = invalid(module_of(variables_tf=hcl))
    (problem,) = result.problems
    assert (problem.file, problem.line) == ("variables.tf", 3)
    assert reason in problem.reason and str(result).startswith("variables.tf line 3: ")


def test_a_metadata_variable_needs_a_default_and_every_bad_one_is_reported() -> None:
    result = invalid(module_of(variables_tf='variable "credit_cost" {\n  type = number\n}\n'
                                            'variable "public_access" {\n  default = "maybe"\n}\n'))
    assert [(p.line, p.reason.split()[2]) for p in result.problems] == [(1, '"credit_cost"'), (4, '"public_access"')]
    assert "needs a default value" in result.problems[0].reason


def test_flags_accept_what_terraform_converts() -> None:
    result = module_of(variables_tf='variable "public_access" {\n  default = "true"\n}\n'
                                    'variable "module_dependency" {\n  default = [" a ", "b", "a"]\n}\n')
    assert isinstance(result, ModuleSpec) and result.public_access and result.dependencies == ("a", "b")


def test_duplicates_across_files_are_reported_at_module_level() -> None:
    result = invalid(module_of(a_tf='variable "x" {}\noutput "o" {\n  value = 1\n}\n',
                               b_tf='\nvariable "x" {}\n', c_tf='output "o" {\n  value = 2\n}\n'))
    assert [str(p) for p in result.problems] == [
        'b.tf line 2: variable "x" is declared again (first in a.tf line 1)',
        'c.tf line 1: output "o" is declared again (first in a.tf line 2)',
    ]


def test_file_problems_make_the_module_invalid_with_every_file_named() -> None:
    result = invalid(module_of(good_tf='variable "a" {}\n', bad_tf="variable {\n", worse_tf="x = \x00"))
    assert [p.file for p in result.problems] == ["bad.tf", "worse.tf"]
    assert result.files == ("bad.tf", "good.tf", "worse.tf")


def test_only_tf_files_count() -> None:
    result = invalid(parse_module("docs", {"README.md": b"# hi", "vars.tf.json": b"{}"}))
    assert result.reason == "the directory has no .tf files"


@pytest.mark.parametrize("name", ["Net-Plan", "a" * 64, "v2_final-ok", "0day", "x"])
def test_ascii_names_are_kept_as_written(name: str) -> None:
    assert valid_name(name) is None
    result = parse_module(name, {"main.tf": b'variable "x" {}\n'})
    assert isinstance(result, ModuleSpec) and result.name == name


@pytest.mark.parametrize(("name", "reason"), [
    ("", "empty"), ("   ", "empty"), (".github", "hidden"), (" padded", "start with an ASCII letter"),
    ("a" * 65, "65 characters"), ("-flag", "start with an ASCII letter or a digit"), ("a/b", '"/"'),
    ("tab\there", '"\\t"'), ("rocket 🚀", '" "'), ("My Module", '" "'), ("données", '"é"'),
    ("数据", "start with an ASCII letter"), ("cafe\u0301", '"\u0301"'), ("\u212aelvin", "start with an ASCII"),
    ("trailing ", '" "'), ("semi;colon", '";"'),
])
def test_unusable_names(name: str, reason: str) -> None:
    found = valid_name(name)
    assert found is not None and reason in found


# -- JSON ------------------------------------------------------------------------------------------------

def roundtrip_json(data: dict[str, object]) -> dict[str, object]:
    return json.loads(json.dumps(data))  # type: ignore[no-any-return]


def test_file_parses_round_trip_exactly_through_json() -> None:
    parses = [parse_file(name, content) for module in EXAMPLE_NAMES for name, content in example(module).items()
              if name.endswith(".tf")]
    parses += [parse_file("bad.tf", b"variable {\n"), parse_file("bin.tf", b"\x00"), parse_file("e.tf", b"")]
    for parse in parses:
        again = FileParse.from_json(roundtrip_json(parse.to_json()))
        assert again == parse and again.to_json() == parse.to_json()


def test_modules_round_trip_through_json() -> None:
    for name in EXAMPLE_NAMES:
        module = spec(name)
        data = roundtrip_json(module.to_json())
        assert module_from_json(data) == module
        assert data["credit_cost"] == str(module.credit_cost)
        assert all({"required", "kind", "choices"} <= set(item) for item in data["inputs"])  # type: ignore[attr-defined]
    broken = invalid(module_of(x_tf="}"))
    assert module_from_json(roundtrip_json(broken.to_json())) == broken


def test_cached_parses_from_another_parser_version_are_refused() -> None:
    data = parse_file("a.tf", b'variable "a" {}\n').to_json()
    assert FileParse.from_cache(data) is not None
    data["parser"] = PARSER_VERSION + 1
    assert FileParse.from_cache(data) is None
    with pytest.raises(ValueError, match="parser version"):
        FileParse.from_json(data)


def test_assemble_rebuilds_a_module_from_cached_parses_under_their_own_names() -> None:
    files = {name: content for name, content in example("network-plan").items() if name.endswith(".tf")}
    cached = {name: FileParse.from_json(roundtrip_json(parse_file(name, content).to_json()))
              for name, content in files.items()}
    assert assemble("network-plan", cached) == spec("network-plan")
    same_blob = parse_file("other.tf", b'variable "x" {}\n')  # one blob SHA, cached under another file name
    result = invalid(assemble("m", {"a.tf": same_blob, "b.tf": same_blob}))
    assert str(result) == 'b.tf line 1: variable "x" is declared again (first in a.tf line 1)'


# -- speed -----------------------------------------------------------------------------------------------
