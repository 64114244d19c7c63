"""What the module parser returns: variables, outputs, file parses and modules, all JSON round-trippable."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property
from typing import Any

from core.hcl.fast import literal_value
from core.hcl.lexer import LexError
from core.hcl.tree import JsonValue

# bump when a parse of the same file would change; cached parses of another version are re-parsed
# (2: policy findings; 3: constant defaults, defaults converted to their type, named blocks for duplicates)
PARSER_VERSION = 3
SPEC_VERSION = 2  # the stored ModuleSpec JSON (1: unversioned); older ones are migrated by core.modules.spec
KINDS = ("text", "number", "bool", "choice", "json")
_SCALAR_KINDS: dict[type, str] = {str: "text", bool: "bool", int: "number", float: "number"}
_TYPE_HEAD = re.compile(r"[a-z]+")
_CONTAINS = re.compile(r"contains\(\s*(\[.*\])\s*,\s*var\.([A-Za-z_][A-Za-z0-9_-]*)\s*\)", re.DOTALL)


@dataclass(frozen=True)
class ParseProblem:
    """Why a file or module cannot be used: the file, the 1-based line (None for the whole file), a reason."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}" if where else self.reason

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict (see ``from_json``)."""
        return {"file": self.file, "line": self.line, "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ParseProblem:
        """Rebuild from ``to_json()``."""
        return cls(data["file"], data["line"], data["reason"])


@dataclass(frozen=True)
class PolicyFinding:
    """Something in a file the module policy refuses: the rule it breaks, where, and why (one sentence).

    ``rule`` is ``state`` (a backend or cloud block), ``module`` (a module call), ``provisioner`` or ``path`` (a
    file function reading outside the module); ``line`` is 1-based. See :mod:`core.modules.policy`.
    """

    rule: str
    file: str
    line: int
    reason: str

    def to_json(self) -> list[Any]:
        """A JSON-compatible list (see ``from_json``)."""
        return [self.rule, self.file, self.line, self.reason]

    @classmethod
    def from_json(cls, data: list[Any]) -> PolicyFinding:
        """Rebuild from ``to_json()``."""
        rule, file, line, reason = data
        return cls(str(rule), str(file), int(line), str(reason))


@dataclass(frozen=True)
class Declaration:
    """A named top-level thing Terraform wants unique in a module: a local value, module call, resource or data.

    ``kind`` is ``local``, ``module``, ``resource`` or ``data``; ``name`` is ``type.name`` for resources and data.
    """

    kind: str
    name: str
    file: str
    line: int

    def to_json(self) -> list[Any]:
        """A JSON-compatible list (see ``from_json``)."""
        return [self.kind, self.name, self.file, self.line]

    @classmethod
    def from_json(cls, data: list[Any]) -> Declaration:
        """Rebuild from ``to_json()``."""
        kind, name, file, line = data
        return cls(str(kind), str(name), str(file), int(line))


@dataclass(frozen=True)
class Validation:
    """A ``validation`` block: the condition as Terraform text and the error message."""

    condition: str
    error_message: str


@dataclass(frozen=True)
class Variable:
    """A Terraform input variable, as a deploy form needs it.

    ``type`` is Terraform type text (``any`` when absent); ``description`` has its UIMeta tag removed;
    ``default`` is JSON-compatible and only meaningful when ``has_default`` (``default = null`` is a default);
    ``default_text`` is the default as written; ``group``/``order``/``ui_flags`` come from the UIMeta tag.
    """

    name: str
    type: str = "any"
    description: str = ""
    has_default: bool = False
    default: JsonValue = field(default=None, hash=False)
    default_text: str = ""
    sensitive: bool = False
    nullable: bool = True
    validations: tuple[Validation, ...] = ()
    group: int | None = None
    order: int | None = None
    ui_flags: tuple[str, ...] = ()
    file: str = ""
    line: int = 0

    @property
    def required(self) -> bool:
        """True when the variable has no default: the user must give a value."""
        return not self.has_default

    @property
    def hidden(self) -> bool:
        """Group 0 holds metadata and platform wiring, never shown on a form."""
        return self.group == 0

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Form position: (group, order, name); untagged variables come after tagged ones."""
        last = 1 << 30
        return (last if self.group is None else self.group, last if self.order is None else self.order, self.name)

    @property
    def type_head(self) -> str:
        """The type constructor: ``string``, ``number``, ``bool``, ``list``, ``map``, ``object``, ``any``..."""
        match = _TYPE_HEAD.match(self.type)
        return match.group() if match else "any"

    @cached_property
    def choices(self) -> tuple[str, ...]:
        """Allowed values of a string read from a ``contains([...], var.<name>)`` validation, else ()."""
        if self.type_head != "string":
            return ()
        for validation in self.validations:
            match = _CONTAINS.fullmatch(validation.condition.strip())
            if match is None or match.group(2) != self.name:
                continue
            try:
                values = literal_value(match.group(1))
            except (LexError, RecursionError):
                continue
            if isinstance(values, list) and values and all(isinstance(value, str) for value in values):
                return tuple(dict.fromkeys(values))  # type: ignore[arg-type]
        return ()

    @property
    def kind(self) -> str:
        """The form widget: text, number, bool, choice or json (collections, objects and ``any``).

        An untyped (``any``) variable with a scalar default takes the default's kind.
        """
        head = self.type_head
        if head == "string":
            return "choice" if self.choices else "text"
        if head in ("number", "bool"):
            return head
        if head == "any" and self.has_default and self.default is not None:
            return _SCALAR_KINDS.get(type(self.default), "json")
        return "json"

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict (see ``from_json``)."""
        return {
            "name": self.name, "type": self.type, "description": self.description,
            "has_default": self.has_default, "default": self.default, "default_text": self.default_text,
            "sensitive": self.sensitive, "nullable": self.nullable,
            "validations": [[v.condition, v.error_message] for v in self.validations],
            "group": self.group, "order": self.order, "ui_flags": list(self.ui_flags),
            "file": self.file, "line": self.line,
            "required": self.required, "kind": self.kind, "choices": list(self.choices),  # derived, for readers
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Variable:
        """Rebuild from ``to_json()``."""
        return cls(
            name=data["name"], type=data["type"], description=data["description"],
            has_default=data["has_default"], default=data["default"], default_text=data["default_text"],
            sensitive=data["sensitive"], nullable=data["nullable"],
            validations=tuple(Validation(c, m) for c, m in data["validations"]),
            group=data["group"], order=data["order"], ui_flags=tuple(data["ui_flags"]),
            file=data["file"], line=data["line"],
        )


@dataclass(frozen=True)
class Output:
    """A Terraform output; a sensitive one is never shown in chat."""

    name: str
    description: str = ""
    sensitive: bool = False
    file: str = ""
    line: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict (see ``from_json``)."""
        return {"name": self.name, "description": self.description, "sensitive": self.sensitive,
                "file": self.file, "line": self.line}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Output:
        """Rebuild from ``to_json()``."""
        return cls(data["name"], data["description"], data["sensitive"], data["file"], data["line"])


@dataclass(frozen=True)
class FileParse:
    """One ``.tf`` file: variables, outputs and policy findings in source order, or the problem that stopped it."""

    filename: str
    variables: tuple[Variable, ...] = ()
    outputs: tuple[Output, ...] = ()
    problem: ParseProblem | None = None
    findings: tuple[PolicyFinding, ...] = ()
    declarations: tuple[Declaration, ...] = ()

    def with_filename(self, filename: str) -> FileParse:
        """The same parse under another file name (a cached blob may sit under several names)."""
        if filename == self.filename:
            return self
        return FileParse(
            filename,
            tuple(replace(variable, file=filename) for variable in self.variables),
            tuple(replace(output, file=filename) for output in self.outputs),
            replace(self.problem, file=filename) if self.problem else None,
            tuple(replace(finding, file=filename) for finding in self.findings),
            tuple(replace(declaration, file=filename) for declaration in self.declarations),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict (see ``from_json``)."""
        return {
            "parser": PARSER_VERSION, "filename": self.filename,
            "variables": [variable.to_json() for variable in self.variables],
            "outputs": [output.to_json() for output in self.outputs],
            "problem": self.problem.to_json() if self.problem else None,
            "findings": [finding.to_json() for finding in self.findings],
            "declarations": [declaration.to_json() for declaration in self.declarations],
        }

    @classmethod
    def from_cache(cls, data: dict[str, Any]) -> FileParse | None:
        """A cached parse, or None when another parser version made it (parse the file again)."""
        return cls.from_json(data) if data.get("parser") == PARSER_VERSION else None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileParse:
        """Rebuild a parse; ValueError when another parser version made it (see :meth:`from_cache`)."""
        if data.get("parser") != PARSER_VERSION:
            raise ValueError(f"a parse from parser version {data.get('parser')}, not {PARSER_VERSION}")
        problem = data["problem"]
        return cls(
            data["filename"],
            tuple(Variable.from_json(item) for item in data["variables"]),
            tuple(Output.from_json(item) for item in data["outputs"]),
            ParseProblem.from_json(problem) if problem else None,
            tuple(PolicyFinding.from_json(item) for item in data["findings"]),
            tuple(Declaration.from_json(item) for item in data["declarations"]),
        )


@dataclass(frozen=True)
class ModuleSpec:
    """A usable module: catalog metadata from its metadata variables, its form inputs and its outputs.

    ``inputs`` excludes the metadata variables and is sorted by (group, order, name); ``declared`` names the
    metadata variables the module declares (a module without ``public_access`` may be a helper).
    """

    name: str
    description: str = ""
    documentation: str = ""
    credit_cost: Decimal = Decimal(0)
    require_credit_purchases: bool = False
    public_access: bool = False
    dependencies: tuple[str, ...] = ()
    inputs: tuple[Variable, ...] = ()
    outputs: tuple[Output, ...] = ()
    files: tuple[str, ...] = ()
    declared: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Always True; False on :class:`InvalidModule`."""
        return True

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict (see ``from_json``)."""
        return {
            "version": SPEC_VERSION, "parser": PARSER_VERSION, "valid": True, "name": self.name,
            "description": self.description,
            "documentation": self.documentation, "credit_cost": str(self.credit_cost),
            "require_credit_purchases": self.require_credit_purchases, "public_access": self.public_access,
            "dependencies": list(self.dependencies), "inputs": [variable.to_json() for variable in self.inputs],
            "outputs": [output.to_json() for output in self.outputs], "files": list(self.files),
            "declared": list(self.declared),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModuleSpec:
        """Rebuild from ``to_json()`` of this version (stored specs go through ``core.modules.spec.load_spec``)."""
        return cls(
            name=data["name"], description=data["description"], documentation=data["documentation"],
            credit_cost=Decimal(data["credit_cost"]), require_credit_purchases=data["require_credit_purchases"],
            public_access=data["public_access"], dependencies=tuple(data["dependencies"]),
            inputs=tuple(Variable.from_json(item) for item in data["inputs"]),
            outputs=tuple(Output.from_json(item) for item in data["outputs"]),
            files=tuple(data["files"]), declared=tuple(data["declared"]),
        )


@dataclass(frozen=True)
class InvalidModule:
    """A directory that cannot be listed as a module, with every problem found (file, line, reason)."""

    name: str
    problems: tuple[ParseProblem, ...]
    files: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Always False; True on :class:`ModuleSpec`."""
        return False

    @property
    def reason(self) -> str:
        """All problems, one per line."""
        return "\n".join(str(problem) for problem in self.problems)

    def __str__(self) -> str:
        return self.reason

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict (see ``from_json``)."""
        return {"parser": PARSER_VERSION, "valid": False, "name": self.name,
                "problems": [problem.to_json() for problem in self.problems], "files": list(self.files)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InvalidModule:
        """Rebuild from ``to_json()``."""
        return cls(data["name"], tuple(ParseProblem.from_json(item) for item in data["problems"]),
                   tuple(data["files"]))


def module_from_json(data: dict[str, Any]) -> ModuleSpec | InvalidModule:
    """Rebuild either result from its ``to_json()`` form."""
    return ModuleSpec.from_json(data) if data["valid"] else InvalidModule.from_json(data)
