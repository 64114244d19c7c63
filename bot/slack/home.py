"""The App Home tab: a neutral Reply rendered as one view of type ``home`` (at most 100 blocks).

The Home view (``commands.views.home``) caps its own lists; should a Reply still render to more blocks than a
view holds, the last block says so and names ``/rad home``, which shows everything in a message. A Home has
no files: attachments are left out with a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.slack import suggestions
from bot.slack.elements import Json
from bot.slack.render import actions_blocks, card_blocks, context, text_blocks
from commands.ui.model import Reply
from core.wording import count

HOME_BLOCKS = 100
"""Blocks a Home tab view holds (``views.publish``)."""


def render_home(reply: Reply, slash: str = "/rad") -> Json:
    """``reply`` as a Home tab view (``{"type": "home", "blocks": [...]}``) within Slack's limits."""
    blocks: list[Json] = text_blocks(reply.text) if reply.text.strip() else []
    for card in reply.cards:
        blocks += ([{"type": "divider"}] if blocks else []) + card_blocks(card)
    if reply.actions:
        blocks += actions_blocks(reply.actions)
    notes = []
    if reply.attachments:
        notes.append(f"_{count(len(reply.attachments), 'file')} cannot be shown here: run `{slash} home` to get them._")
    room = HOME_BLOCKS - len(notes)
    if len(blocks) > room:
        blocks = blocks[:room - 1]
        notes.insert(0, f"_There is more than this tab can hold: run `{slash} home` to see all of it._")
    blocks += [context(note) for note in notes]
    if not blocks:
        blocks = text_blocks("Nothing to show yet.")
    return {"type": "home", "blocks": suggestions.unique_block_ids(blocks)}


def from_home(body: Mapping[str, Any]) -> bool:
    """Whether a block action was clicked on the Home tab (a view of type ``home``, not a message or a modal)."""
    container = body.get("container") or {}
    view = body.get("view") or {}
    return container.get("type") == "view" and isinstance(view, Mapping) and view.get("type") == "home"


def redraws_home(reply: Reply) -> bool:
    """Whether a click's reply would redraw the clicked message (a listing, a card): on Home, the refresh does."""
    return reply.replace_original and bool(reply.cards or reply.actions)

