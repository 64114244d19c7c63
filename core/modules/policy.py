"""What a module may contain: the one rule set used at publish (the scanner) and before each run (the worker).

Partner modules are hostile code. A module is refused when a file does not parse, holds a ``backend`` or
``cloud`` block, calls another module, holds a provisioner (partner modules, unless the admin setting
``allow_provisioners`` is on; platform modules may), passes an absolute or climbing literal path to a file
function, or is too large: a ``.tf`` file over :data:`MAX_FILE_BYTES`, more than :data:`MAX_VARIABLES`
variables or more than :data:`MAX_FILES` files. The per-file rules live in :mod:`core.modules.file_rules` and are
cached with each file's parse; the limits are checked here over the whole module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.modules.model import FileParse, ParseProblem, PolicyFinding
from core.modules.parser import MAX_FILE_BYTES, parse_file

__all__ = [
    "MAX_FILES", "MAX_FILE_BYTES", "MAX_VARIABLES", "PolicyViolation", "check_files", "file_count_violation",
    "provisioner_violations", "rule_violations",
]

MAX_VARIABLES = 500
MAX_FILES = 100
PROVISIONER = "provisioner"


@dataclass(frozen=True)
class PolicyViolation:
    """One thing a module may not do: the file inside the module, the line (0 when unknown), and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}" if where else self.reason

    @classmethod
    def of_finding(cls, finding: PolicyFinding) -> PolicyViolation:
        """The violation a file's finding makes."""
        return cls(finding.file, finding.line, finding.reason)

    @classmethod
    def of_problem(cls, problem: ParseProblem) -> PolicyViolation:
        """The violation a file that cannot be read makes."""
        return cls(problem.file, problem.line or 0, problem.reason)

    def as_problem(self) -> ParseProblem:
        """The same, as the publish page lists a module's problems."""
        return ParseProblem(self.file, self.line or None, self.reason)


def check_files(files: Mapping[str, bytes], *, allow_provisioners: bool) -> list[PolicyViolation]:
    """Every violation of the files about to run (file name -> content); ``[]`` means they may run.

    Only plain ``*.tf`` names may run: anything else Terraform might read (``*.tf.json``, sub-paths) is a
    violation too, since these checks cannot vouch for it.
    """
    violations = [PolicyViolation(name, 0, "only the module's own .tf files may run; remove this file")
                  for name in sorted(files) if not runnable_name(name)]
    parses = {name: parse_file(name, content) for name, content in sorted(files.items()) if runnable_name(name)}
    violations += [PolicyViolation.of_problem(parse.problem) for parse in parses.values() if parse.problem]
    return violations + rule_violations(parses, allow_provisioners=allow_provisioners)


def runnable_name(name: str) -> bool:
    """Whether ``name`` is a plain ``.tf`` file name (no folder, not hidden)."""
    return name.endswith(".tf") and "/" not in name and "\\" not in name and not name.startswith(".")


def rule_violations(parses: Mapping[str, FileParse], *, allow_provisioners: bool) -> list[PolicyViolation]:
    """The policy over a module's parsed files (file name -> parse): limits and rules, not parse problems."""
    violations = [v for v in (file_count_violation(parses), _variable_count_violation(parses)) if v is not None]
    for name in sorted(parses):
        for finding in parses[name].with_filename(name).findings:
            if finding.rule != PROVISIONER or not allow_provisioners:
                violations.append(PolicyViolation.of_finding(finding))
    return violations


def provisioner_violations(parses: Mapping[str, FileParse]) -> list[PolicyViolation]:
    """The provisioners of a module: refused in partner modules unless an admin allows them."""
    return [PolicyViolation.of_finding(finding) for name in sorted(parses)
            for finding in parses[name].with_filename(name).findings if finding.rule == PROVISIONER]


def file_count_violation(names: Iterable[str]) -> PolicyViolation | None:
    """A module with more than :data:`MAX_FILES` ``.tf`` files (checked before any file is fetched)."""
    count = len(list(names))
    if count <= MAX_FILES:
        return None
    return PolicyViolation("", 0, f"the module has {count} .tf files; the limit is {MAX_FILES}")


def _variable_count_violation(parses: Mapping[str, FileParse]) -> PolicyViolation | None:
    variables = [(name, variable.line) for name in sorted(parses) for variable in parses[name].variables]
    if len(variables) <= MAX_VARIABLES:
        return None
    file, line = variables[MAX_VARIABLES]
    return PolicyViolation(file, line, f"the module declares {len(variables)} variables; the limit is "
                                       f"{MAX_VARIABLES} (the first one over it is here)")
