"""Terraform modules from a directory's ``.tf`` files: variables, outputs and RAD's metadata variables.

Pure functions, no database and no network. :func:`parse_file` reads one file (never raising for bad input);
:func:`assemble` merges file parses (fresh or rebuilt from their cached JSON) into a :class:`ModuleSpec`
or an :class:`InvalidModule`; :func:`parse_module` does both. Files are read by a fast HCL reader; anything it
does not accept is read again by python-hcl2, which decides validity and error lines (:mod:`core.hcl.reference`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from core.hcl.display import quoted
from core.hcl.fast import parse_fast
from core.hcl.lexer import LexError, Lines, RefusedByTerraform
from core.hcl.reference import parse_reference
from core.hcl.tree import Body, HclSyntaxError
from core.modules.declarations import duplicate_declarations, named_blocks
from core.modules.file_rules import policy_findings
from core.modules.metadata import METADATA_NAMES, MetadataError, read_metadata
from core.modules.model import (
    PARSER_VERSION,
    FileParse,
    InvalidModule,
    ModuleSpec,
    Output,
    ParseProblem,
    PolicyFinding,
    Validation,
    Variable,
    module_from_json,
)
from core.modules.variables import read_declarations

__all__ = [
    "MAX_FILE_BYTES", "MAX_NAME_LENGTH", "METADATA_NAMES", "PARSER_VERSION", "FileParse", "InvalidModule",
    "ModuleSpec", "Output", "ParseProblem", "PolicyFinding", "Validation", "Variable", "assemble", "module_from_json",
    "parse_file", "parse_module", "read_body", "too_large", "valid_name",
]

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 1 << 20
MAX_NAME_LENGTH = 64
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")


def read_body(text: str) -> Body:
    """The syntax tree of one file: the fast reader, else python-hcl2 (which raises :class:`HclSyntaxError`).

    What the fast reader knows Terraform refuses (:class:`RefusedByTerraform`) is refused without asking.
    """
    try:
        return parse_fast(text)
    except RefusedByTerraform as error:
        raise HclSyntaxError(Lines(text)(error.pos), error.reason) from None
    except (LexError, RecursionError) as error:
        logger.debug("fast HCL reader declined a file (%s); asking python-hcl2", error)
    try:
        return parse_reference(text)
    except RecursionError:
        raise HclSyntaxError(1, "expressions are nested too deeply") from None


def too_large(filename: str, size: int) -> FileParse:
    """The parse of a file over :data:`MAX_FILE_BYTES`, made without reading it."""
    reason = f"too large to read ({size / (1 << 20):.1f} MB; the limit is {MAX_FILE_BYTES >> 20} MB)"
    return FileParse(filename, problem=ParseProblem(filename, None, reason))


def parse_file(filename: str, content: bytes) -> FileParse:
    """One ``.tf`` file's variables and outputs, or the problem (file, line, reason) that stopped it."""

    def problem(line: int | None, reason: str) -> FileParse:
        return FileParse(filename, problem=ParseProblem(filename, line, reason))

    if len(content) > MAX_FILE_BYTES:
        return too_large(filename, len(content))
    if b"\0" in content:
        return problem(None, "not a text file")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return problem(None, "not a text file (not UTF-8)")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    try:
        body = read_body(text)
        variables, outputs = read_declarations(filename, body)
        findings = policy_findings(filename, body)
        declarations = named_blocks(filename, body)
    except HclSyntaxError as error:
        return problem(error.line, error.reason)
    except Exception:  # a parser bug must not break a scan: the file is reported instead
        logger.exception("HCL parser failed on %s", filename)
        return problem(None, "could not be read (an internal parser error was logged)")
    return FileParse(filename, variables, outputs, findings=findings, declarations=declarations)


def parse_module(name: str, files: Mapping[str, bytes]) -> ModuleSpec | InvalidModule:
    """A directory's module from its files (file name -> content); only ``*.tf`` files are read."""
    return assemble(name, {filename: parse_file(filename, content)
                           for filename, content in files.items() if filename.endswith(".tf")})


def assemble(name: str, parses: Mapping[str, FileParse]) -> ModuleSpec | InvalidModule:
    """Merge file parses (file name -> parse, fresh or cached) into a module, files in name order.

    Each parse is relabelled with its key, since a cached parse of the same blob may carry another file name.
    Duplicate names (variables, outputs, locals, module calls, resources, data sources) and bad metadata make
    the module invalid, naming file and line.
    """
    files = tuple(sorted(parses))
    ordered = [parses[filename].with_filename(filename) for filename in files]
    if not ordered:
        return InvalidModule(name, (ParseProblem("", None, "the directory has no .tf files"),), files)
    problems = [parse.problem for parse in ordered if parse.problem is not None]
    variables = [variable for parse in ordered for variable in parse.variables]
    outputs = [output for parse in ordered for output in parse.outputs]
    problems += _duplicates("variable", variables) + _duplicates("output", outputs)
    problems += duplicate_declarations(declaration for parse in ordered for declaration in parse.declarations)
    if problems:
        return InvalidModule(name, tuple(problems), files)
    metadata = {variable.name: variable for variable in variables if variable.name in METADATA_NAMES}
    try:
        values = read_metadata(name, metadata)
    except MetadataError as error:
        return InvalidModule(name, error.problems, files)
    inputs = sorted((variable for variable in variables if variable.name not in METADATA_NAMES),
                    key=lambda variable: variable.sort_key)
    return ModuleSpec(
        name=name,
        description=values.description,
        documentation=values.documentation,
        credit_cost=values.credit_cost,
        require_credit_purchases=values.require_credit_purchases,
        public_access=values.public_access,
        dependencies=values.dependencies,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        files=files,
        declared=tuple(sorted(metadata)),
    )


def _duplicates(kind: str, items: list[Variable] | list[Output]) -> list[ParseProblem]:
    first: dict[str, Variable | Output] = {}
    problems: list[ParseProblem] = []
    for item in items:
        seen = first.setdefault(item.name, item)
        if seen is not item:
            problems.append(ParseProblem(
                item.file, item.line, f'{kind} "{item.name}" is declared again (first in {seen.file} line {seen.line})'
            ))
    return problems


def valid_name(name: str) -> str | None:
    """Why a directory name cannot be a catalog name, or None when it can.

    Allowed: 1 to 64 ASCII letters, digits, ``-`` and ``_``, starting with a letter or a digit (so never
    ``.``-hidden, never read as a command option). Case is kept as written; uniqueness ignores it (and counts
    ``_`` and ``-`` as the same), see ``Module.key_for``.
    """
    if not name.strip():
        return "the name is empty"
    if name.startswith("."):
        return "names starting with '.' are hidden directories"
    if len(name) > MAX_NAME_LENGTH:
        return f"the name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
    if NAME_PATTERN.fullmatch(name.lower()) and name.isascii():
        return None
    if not name[0].isascii() or not name[0].isalnum():
        return "the name must start with an ASCII letter or a digit"
    bad = next(char for char in name if not (char.isascii() and (char.isalnum() or char in "-_")))
    return f"the name contains {quoted(bad)}; use only ASCII letters, digits, `-` and `_`"
