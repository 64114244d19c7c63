"""The four rooms of DESIGN.md: imports run one way, bot -> commands -> core -> storage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "commands": {"bot", "slack_bolt", "slack_sdk", "discord", "waitress"},
    "core": {"bot", "commands", "slack_bolt", "slack_sdk", "discord", "waitress"},
    "storage": {"bot", "commands", "core", "slack_bolt", "slack_sdk", "discord", "waitress"},
}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_imports_run_one_way(room: str) -> None:
    breaks = [f"{path.relative_to(ROOT)} imports {name}"
              for path in sorted((ROOT / room).rglob("*.py"))
              for name in sorted(imported(path) & FORBIDDEN[room])]
    assert breaks == []
