"""Reply → Block Kit messages (pure functions). Forms and modals live in ``bot.slack.modals``.

Every limit is honoured by splitting (sections, fields, actions blocks, messages), by searching a long select
through its options provider (an external select) or cutting it with a note, or by attaching an over-long text
as a ``.txt`` file; nothing is rejected by Slack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.slack import elements, limits, suggestions
from bot.slack.elements import Json, plain_text
from bot.slack.modals import errors_response, form_metadata, form_values, render_form
from bot.slack.mrkdwn import shorten, split_text, to_mrkdwn
from commands.ui.model import Attachment, Button, Card, Control, Field, Reply, SearchBox

__all__ = ["Rendered", "errors_response", "form_metadata", "form_values", "render_form", "render_reply"]

OVERFLOW_FILENAME = "reply.txt"


@dataclass(frozen=True)
class Rendered:
    """The messages to post, in order, and the files to upload with them."""

    messages: tuple[Json, ...]
    files: tuple[Attachment, ...] = ()


def render_reply(reply: Reply) -> Rendered:
    """Render a reply as one or more messages (``{"text": fallback, "blocks": [...]}``) and files."""
    files = list(reply.attachments)
    groups: list[list[Json]] = []
    if reply.text.strip():
        text = reply.text
        if len(text) > limits.MESSAGE_TEXT:
            files.insert(0, Attachment(OVERFLOW_FILENAME, text.encode(), "text/plain", "Full reply"))
            text = (f"_This reply is {len(text):,} characters long, so the full text is attached as "
                    f"`{OVERFLOW_FILENAME}`. It begins:_\n\n" + text[: limits.SECTION_TEXT])
        groups.append(text_blocks(text))
    for card in reply.cards:
        groups.append(([{"type": "divider"}] if groups else []) + card_blocks(card))
    if reply.actions:
        groups.append(actions_blocks(reply.actions))
    return Rendered(messages=tuple(message(blocks) for blocks in pack(groups)), files=tuple(files))


def message(blocks: list[Json]) -> Json:
    """A message payload: the blocks and a short top-level ``text`` for notifications."""
    return {"text": fallback_text(blocks), "blocks": suggestions.unique_block_ids(blocks)}


def fallback_text(blocks: Sequence[Json]) -> str:
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and text.get("text", "").strip():
            return shorten(str(text["text"]), limits.FALLBACK_TEXT)
        if block.get("type") == "section" and block.get("fields"):
            return shorten(str(block["fields"][0]["text"]), limits.FALLBACK_TEXT)
    return "RAD"


def pack(groups: list[list[Json]]) -> list[list[Json]]:
    """Blocks grouped into messages of at most 50 blocks; a group (a card) is split only if it must be."""
    messages: list[list[Json]] = []
    current: list[Json] = []
    for group in groups:
        if current and len(current) + len(group) > limits.MESSAGE_BLOCKS:
            messages.append(current)
            current = []
        for block in group:
            if len(current) == limits.MESSAGE_BLOCKS:
                messages.append(current)
                current = []
            current.append(block)
    if current:
        messages.append(current)
    return messages


def section(mrkdwn: str) -> Json:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def text_blocks(text: str) -> list[Json]:
    """Sections of at most 3000 characters each."""
    return [section(chunk) for chunk in split_text(to_mrkdwn(text), limits.SECTION_TEXT)]


def context(mrkdwn: str) -> Json:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": shorten(mrkdwn, limits.SECTION_TEXT)}]}


def card_blocks(card: Card) -> list[Json]:
    """A header (or a bold section for a long title), text, field sections, image and buttons."""
    blocks: list[Json] = []
    title = card.title.strip()
    if title and len(title) <= limits.HEADER_TEXT:
        blocks.append({"type": "header", "text": plain_text(title, limits.HEADER_TEXT)})
    elif title:
        blocks += text_blocks(f"*{title}*")
    if card.text.strip():
        blocks += text_blocks(card.text)
    blocks += field_blocks(card.fields)
    if card.image:
        if len(card.image) <= limits.IMAGE_URL:
            alt = (title or "image")[: limits.ALT_TEXT]
            blocks.append({"type": "image", "image_url": card.image, "alt_text": alt})
        else:
            blocks.append(context("_The image link is too long for Slack to show._"))
    if card.actions:
        blocks += actions_blocks(card.actions)
    return blocks


def field_text(field: Field) -> str:
    return f"*{to_mrkdwn(field.label)}*\n{to_mrkdwn(field.value) or '-'}"


def field_blocks(fields: Sequence[Field]) -> list[Json]:
    """Fields two by two in sections of at most 10; a field too long for a field cell gets its own section."""
    blocks: list[Json] = []
    row: list[Json] = []
    for field in fields:
        text = field_text(field)
        if len(text) <= limits.FIELD_TEXT:
            row.append({"type": "mrkdwn", "text": text})
            if len(row) == limits.SECTION_FIELDS:
                blocks.append({"type": "section", "fields": row})
                row = []
            continue
        if row:
            blocks.append({"type": "section", "fields": row})
            row = []
        blocks += [section(chunk) for chunk in split_text(text, limits.SECTION_TEXT)]
    if row:
        blocks.append({"type": "section", "fields": row})
    return blocks


def actions_blocks(controls: Sequence[Control]) -> list[Json]:
    """Actions blocks of at most 25 elements, action ids made unique per block, with notes for cut selects.

    A select searched through an options provider names it in its block's id, so a block holds one provider.
    A search box is an ``input`` block of its own, between the actions blocks around it.
    """
    blocks: list[Json] = []
    notes: list[str] = []
    built: list[Json] = []
    source = ""

    def close() -> None:
        nonlocal built, source
        if built:
            block: Json = {"type": "actions", "elements": built}
            if source:
                block["block_id"] = suggestions.encode_block_id(source)
            blocks.append(block)
        built, source = [], ""

    for control in controls:
        if isinstance(control, SearchBox):
            close()
            blocks.append(elements.search_input(control, elements.encode_action_id(control.action_id, 0,
                                                                                    control.value)))
            continue
        searched = suggestions.options_source(control)
        if len(built) == limits.ACTIONS_ELEMENTS or (searched and source and searched != source):
            close()
        index = len(built)
        if isinstance(control, Button):
            built.append(elements.button(control, elements.encode_action_id(control.action_id, index)))
            continue
        if not control.options:
            notes.append(f"_{control.placeholder or 'This list'}: no choices are available._")
            continue
        action_id = elements.encode_action_id(control.action_id, index, control.value)
        if searched:
            built.append(suggestions.external_select(control, action_id))
            source = searched
            continue
        element, hidden = elements.select(control, action_id)
        built.append(element)
        if hidden:
            notes.append(elements.more_note(hidden))
    close()
    blocks += [context(note) for note in notes]
    return blocks
