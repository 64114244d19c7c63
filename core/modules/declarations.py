"""Names Terraform wants unique in a module (local values, module calls, resources, data), and their duplicates.

Terraform refuses to load a module declaring one twice, in one file or across files ("Duplicate local value
definition", "Duplicate module call", "Duplicate resource ... configuration"); so does the module parser, naming
both places.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.hcl.tree import Body
from core.modules.model import Declaration, ParseProblem

_LABELLED = {"module": 1, "resource": 2, "data": 2}
_SHOWN = {"local": "local value", "module": "module call", "resource": "resource", "data": "data source"}


def named_blocks(filename: str, body: Body) -> tuple[Declaration, ...]:
    """The file's local values, module calls, resources and data sources, in source order."""
    found: list[Declaration] = []
    for block in body.blocks:
        if block.type == "locals":
            found += (Declaration("local", attribute.name, filename, attribute.line) for attribute in block.attributes)
            continue
        count = _LABELLED.get(block.type)
        if count is None or len(block.labels) != count or any(label is None for label in block.labels):
            continue  # an odd block: Terraform reports it, and it names nothing to compare
        found.append(Declaration(block.type, ".".join(block.labels), filename, block.line))  # type: ignore[arg-type]
    return tuple(found)


def duplicate_declarations(declarations: Iterable[Declaration]) -> list[ParseProblem]:
    """One problem per repeated declaration, at the repeat, naming the first place."""
    first: dict[tuple[str, str], Declaration] = {}
    problems: list[ParseProblem] = []
    for item in declarations:
        seen = first.setdefault((item.kind, item.name), item)
        if seen is not item:
            shown = " ".join(f'"{part}"' for part in item.name.split("."))
            problems.append(ParseProblem(item.file, item.line, f"{_SHOWN[item.kind]} {shown} is declared again "
                                                               f"(first in {seen.file} line {seen.line})"))
    return problems
