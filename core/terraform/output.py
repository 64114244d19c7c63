"""Reading Terraform's text: the plan summary, the error of a failed command, and masking sensitive values."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MASK = "***"
SHORT_SECRET = 4
"""Secrets shorter than this are masked only where they stand alone, not inside longer words."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PLAN_LINE = re.compile(
    r"Plan: (?:(?P<imp>\d+) to import, )?(?P<add>\d+) to add, (?P<change>\d+) to change, (?P<destroy>\d+) to destroy"
)
_ERROR_START = re.compile(r"^[│|]?\s*Error: ", re.MULTILINE)


@dataclass(frozen=True)
class ResourceChange:
    """One resource a plan touches: its address and what happens to it.

    ``action`` is ``create``, ``update``, ``delete``, ``replace`` or ``import``.
    """

    address: str
    action: str


@dataclass(frozen=True)
class PlanSummary:
    """What a plan would do to resources, counted as Terraform counts them (a replace is 1 add and 1 destroy).

    ``outputs_change`` is True when outputs move, too; ``changes`` names the resources.
    """

    add: int = 0
    change: int = 0
    destroy: int = 0
    imports: int = 0
    outputs_change: bool = False
    changes: tuple[ResourceChange, ...] = ()

    @property
    def text(self) -> str:
        """``N to add, M to change, K to destroy`` as Terraform says it."""
        imports = f"{self.imports} to import, " if self.imports else ""
        return f"{imports}{self.add} to add, {self.change} to change, {self.destroy} to destroy"

    @property
    def changes_nothing(self) -> bool:
        """True when applying the plan would change no resource and no output."""
        return not (self.add or self.change or self.destroy or self.imports or self.outputs_change)

    def __str__(self) -> str:
        return self.text


_ACTIONS: dict[tuple[str, ...], str] = {
    ("create",): "create", ("update",): "update", ("delete",): "delete",
    ("delete", "create"): "replace", ("create", "delete"): "replace",
}


def parse_plan_json(text: str) -> PlanSummary | None:
    """The summary of ``show -json <plan>`` (Terraform's machine-readable plan); None when it is not one."""
    try:
        plan = json.loads(text)
    except ValueError:
        return None
    if not isinstance(plan, dict) or "format_version" not in plan:
        return None
    counts = {"add": 0, "change": 0, "destroy": 0, "imports": 0}
    changes: list[ResourceChange] = []
    for item in plan.get("resource_changes") or []:
        change = item.get("change") or {}
        action = _ACTIONS.get(tuple(change.get("actions") or ()))
        if change.get("importing"):
            counts["imports"] += 1
            action = action or "import"
        if action is None:
            continue
        counts["add"] += action in {"create", "replace"}
        counts["change"] += action == "update"
        counts["destroy"] += action in {"delete", "replace"}
        changes.append(ResourceChange(str(item.get("address", "")), action))
    outputs = any(tuple((c or {}).get("actions") or ()) not in {("no-op",), ()}
                  for c in (plan.get("output_changes") or {}).values())
    return PlanSummary(counts["add"], counts["change"], counts["destroy"], counts["imports"], outputs,
                       tuple(changes))


def error_text(stderr: str, stdout: str = "") -> str:
    """Terraform's error messages (from the first ``Error:`` on), without warnings before them."""
    for text in (stderr, stdout):
        text = _ANSI.sub("", text)
        match = _ERROR_START.search(text)
        if match:
            return text[match.start():].strip()
    return _ANSI.sub("", stderr).strip()


def tail(text: str, lines: int) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


class Masker:
    """Replaces every occurrence of given secret values with :data:`MASK`, in the forms Terraform prints them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: frozenset[str] = frozenset(form for secret in secrets for form in _forms(secret) if form)
        self._pattern = _pattern(self._secrets)

    @classmethod
    def of_values(cls, values: Iterable[Any]) -> Masker:
        """A masker for JSON-like values: every string and number inside them is a secret."""
        return cls(leaf for value in values for leaf in _leaves(value))

    def adding(self, values: Iterable[Any]) -> Masker:
        """This masker with the leaves of ``values`` as further secrets."""
        return Masker([*self._secrets, *(leaf for value in values for leaf in _leaves(value))])

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced."""
        return text if self._pattern is None else self._pattern.sub(MASK, text)

    def mask_value(self, value: Any) -> Any:
        """A copy of a JSON-like value whose strings (and keys) are masked."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {self.mask(str(key)): self.mask_value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_value(item) for item in value]
        return value


def _leaves(value: Any) -> Iterable[str]:
    """The strings and numbers inside a JSON-like value (booleans and null are no secrets)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float | Decimal):
        yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _leaves(item)
    else:
        yield str(value)


def _forms(secret: str) -> Iterable[str]:
    """A secret as written raw, JSON-escaped (var files, ``output -json``), HCL-escaped, and line by line."""
    yield secret
    yield json.dumps(secret, ensure_ascii=False)[1:-1]
    yield json.dumps(secret)[1:-1]
    yield secret.replace("${", "$${").replace("%{", "%%{")
    if "\n" in secret:
        yield from (line.strip() for line in secret.splitlines() if len(line.strip()) >= SHORT_SECRET)


def _pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    """One regex for all secrets, longest first; short ones only where no word character touches them."""
    if not secrets:
        return None
    parts = [
        re.escape(secret) if len(secret) >= SHORT_SECRET else rf"(?<!\w){re.escape(secret)}(?!\w)"
        for secret in sorted(secrets, key=lambda s: (-len(s), s))
    ]
    return re.compile("|".join(parts))
