"""The neutral markdown subset in Discord's dialect, and splitting long text at line boundaries."""

from __future__ import annotations

import re

from commands.ui.markup import emojify

_BOLD = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)


def to_discord(text: str) -> str:
    """``*bold*`` → ``**bold**`` and ``:shortcode:`` → emoji, leaving code spans alone."""
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):
        converted = _BOLD.sub(r"**\1**", parts[i])
        parts[i] = emojify(converted)
    return "".join(parts)


def split_text(text: str, limit: int) -> list[str]:
    """Chunks of at most ``limit`` characters, cut at a line break, else a space, else anywhere."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= limit // 2:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= limit // 2:
            cut = limit
        chunks.append(rest[:cut])
        rest = rest[cut:]
        if rest[:1] in ("\n", " "):
            rest = rest[1:]
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a visible ellipsis (for labels and titles only)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
