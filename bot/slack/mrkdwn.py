"""The neutral markdown subset as Slack mrkdwn, and text that fits Slack's limits."""

from __future__ import annotations

import re

ELLIPSIS = "…"
FENCE = "```"

# Code first, so that nothing inside code is converted (only escaped).
_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
# Slack's own markup, kept as is: user/channel mentions, special mentions, links.
_SLACK = (r"<@[UW][A-Z0-9]+(?:\|[^<>]*)?>|<#[CGD][A-Z0-9]+(?:\|[^<>]*)?>|<![a-z][^<>]*>"
          r"|<(?:https?://|mailto:)[^<>|\s]+(?:\|[^<>]*)?>")
_MD_LINK = r"\[(?P<label>[^\]\n]+)\]\((?P<url>(?:https?://|mailto:)[^()\s]+)\)"
_MARKUP = re.compile(f"(?P<slack>{_SLACK})|{_MD_LINK}")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")


def escape(text: str) -> str:
    """Escape Slack's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(text: str) -> str:
    """Convert the markdown subset to mrkdwn, keeping Slack mentions and links and escaping everything else.

    The subset: ``*bold*``, ``_italic_``, `` `code` ``, also ``**bold**``, ``~~strike~~`` and ``[label](url)``.
    """
    out: list[str] = []
    pos = 0
    for code in _CODE.finditer(text):
        out.append(_prose(text[pos:code.start()]))
        out.append(escape(code.group()))
        pos = code.end()
    out.append(_prose(text[pos:]))
    return "".join(out)


def _prose(text: str) -> str:
    out: list[str] = []
    pos = 0
    for found in _MARKUP.finditer(text):
        out.append(_styled(text[pos:found.start()]))
        if found.group("slack"):
            out.append(found.group("slack"))
        else:
            label = escape(found.group("label")).replace("|", "¦")
            out.append(f"<{found.group('url')}|{label}>")
        pos = found.end()
    out.append(_styled(text[pos:]))
    return "".join(out)


def _styled(text: str) -> str:
    return escape(_STRIKE.sub(r"~\1~", _BOLD.sub(r"*\1*", text)))


def fit(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis; for labels and titles that cannot be split."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def split_text(text: str, limit: int) -> list[str]:
    """Split mrkdwn into chunks of at most ``limit`` characters, at paragraph, line or word breaks.

    Never cuts inside an ``&entity;`` or a ``<...>`` token; a code block cut in two is closed and reopened.
    """
    if limit < 16:
        raise ValueError("limit too small to split text")
    chunks: list[str] = []
    rest = text.strip("\n")
    room = limit - len(FENCE) - 1  # space to close a code block we cut through
    while len(rest) > limit:
        cut, skip = _cut_point(rest, room)
        head, rest = rest[:cut].rstrip(), rest[cut + skip:]
        if head.count(FENCE) % 2:
            head, rest = head + "\n" + FENCE, FENCE + "\n" + rest
        if head.strip():
            chunks.append(head)
    if rest.strip():
        chunks.append(rest)
    return chunks


def _cut_point(text: str, limit: int) -> tuple[int, int]:
    """Where to cut ``text`` so that the head is at most ``limit`` characters.

    Returns:
        The position of the cut, and how many separator characters to drop there.
    """
    window = text[: limit + 1]
    for separator, floor in (("\n\n", limit // 2), ("\n", limit // 3), (" ", limit // 3)):
        at = window.rfind(separator)
        if at >= floor:
            return at, len(separator)
    cut = limit
    amp = text.rfind("&", max(0, cut - 6), cut)
    if amp > 0 and ";" not in text[amp:cut]:
        cut = amp
    lt = text.rfind("<", max(0, cut - 300), cut)
    if lt > 0 and ">" not in text[lt:cut]:
        cut = lt
    return cut, 0


def shorten(text: str, limit: int) -> str:
    """The mrkdwn ``text`` cut at a safe point to at most ``limit`` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return split_text(text, limit - 1)[0] + ELLIPSIS
