"""Render a neutral ``Reply`` as Discord messages: content, embeds, components and files.

Pure functions. Discord's limits are enforced here (DESIGN.md 2.1): content 2000; per message 10
embeds, 6000 embed characters, 5 action rows, 10 files; per embed title 256, description 4096, 25
fields of 256/1024. What does not fit goes into follow-up messages; text longer than three messages
is attached as ``message.txt``. Nothing is cut silently: only labels and titles are shortened, with "…";
a select with an options provider shows its first 25 options and says how to search the others.
The controls' components come from ``bot.discord.controls``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.discord import ids
from bot.discord.controls import ButtonSpec, Row, SelectSpec, control_rows, search_notes
from bot.discord.text import shorten, split_text, to_discord
from commands.ui.model import Attachment, Card, Reply

CONTENT_MAX, EMBEDS_MAX, EMBED_TOTAL, FILES_MAX, ROWS_MAX = 2000, 10, 6000, 10, 5
TITLE_MAX, DESCRIPTION_MAX, FIELDS_MAX, FIELD_NAME_MAX, FIELD_VALUE_MAX = 256, 4096, 25, 256, 1024
TEXT_MESSAGES_MAX = 3
COLOUR = discord.Colour(0x5865F2)


class StatelessView(discord.ui.View):
    """Components routed by their custom id (``DynamicItem``).

    So discord.py never keeps the view in memory, and the buttons work the same after a restart.
    """

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_finished(self) -> bool:
        """Always True, so discord.py never stores the view to wait for its interactions."""
        return True




@dataclass
class OutMessage:
    """One Discord message; ``send_kwargs``/``edit_kwargs`` give fresh arguments (files are single-use)."""

    content: str = ""
    embeds: list[discord.Embed] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)
    closed: bool = False

    @property
    def embed_chars(self) -> int:
        """The characters in the embeds, as Discord counts them against its 6000 limit."""
        return sum(len(e) for e in self.embeds)

    def view(self) -> StatelessView | None:
        """The message's component rows as a view, or None when it has none."""
        if not self.rows:
            return None
        view = StatelessView()
        for number, row in enumerate(self.rows):
            for spec in row:
                view.add_item(_item(spec, number))
        return view

    def discord_files(self) -> list[discord.File]:
        """The attachments as fresh ``discord.File`` objects (a file can be sent once)."""
        return [discord.File(io.BytesIO(a.content), filename=a.filename, description=a.title or None)
                for a in self.files]

    def send_kwargs(self, *, ephemeral: bool | None = None) -> dict[str, Any]:
        """Arguments for ``send_message``, ``followup.send`` or ``Messageable.send``."""
        kwargs: dict[str, Any] = {}
        if self.content:
            kwargs["content"] = self.content
        if self.embeds:
            kwargs["embeds"] = self.embeds
        view = self.view()
        if view is not None:
            kwargs["view"] = view
        if self.files:
            kwargs["files"] = self.discord_files()
        if ephemeral is not None:
            kwargs["ephemeral"] = ephemeral
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        """Arguments for ``edit_message`` / ``edit_original_response``: replaces everything."""
        return {"content": self.content or None, "embeds": self.embeds, "view": self.view(),
                "attachments": self.discord_files()}

    def payload(self) -> dict[str, Any]:
        """The JSON body Discord receives for this message (for checks against the API spec)."""
        body: dict[str, Any] = {"content": self.content, "embeds": [e.to_dict() for e in self.embeds]}
        view = self.view()
        if view is not None:
            body["components"] = view.to_components()
        if self.files:
            body["attachments"] = [{"id": str(i), "filename": a.filename} for i, a in enumerate(self.files)]
        return body


def _item(spec: ButtonSpec | SelectSpec, row: int) -> discord.ui.Item[Any]:
    if isinstance(spec, ButtonSpec) and spec.url:
        return discord.ui.Button(label=spec.label, url=spec.url, style=discord.ButtonStyle.link, row=row)
    if isinstance(spec, ButtonSpec):
        return discord.ui.Button(label=spec.label, custom_id=spec.custom_id, style=spec.style, row=row,
                                 emoji=spec.emoji or None)
    return discord.ui.Select(custom_id=spec.custom_id, placeholder=spec.placeholder, options=list(spec.options),
                             min_values=spec.min_values, max_values=spec.max_values, row=row)


def notice(text: str, buttons: list[ButtonSpec] | None = None) -> OutMessage:
    """A short message of our own (not from a handler), with optional buttons in one row."""
    return OutMessage(content=to_discord(text)[:CONTENT_MAX], rows=[list(buttons)] if buttons else [])


def render_reply(reply: Reply) -> list[OutMessage]:
    """The messages that show ``reply``, in order; the first answers the interaction."""
    unique = ids.UniqueIds()
    files = {a.filename: a for a in reply.attachments}
    text = "\n".join(part for part in (reply.text, *search_notes(reply)) if part)
    blocks = _text_blocks(to_discord(text), files)
    for card in reply.cards:
        blocks += _card_blocks(card, unique, files)
    if reply.actions:
        blocks += _row_blocks([], control_rows(reply.actions, unique), [])
    loose = list(files.values())
    file_blocks = [OutMessage(files=loose[i:i + FILES_MAX]) for i in range(0, len(loose), FILES_MAX)]
    messages = pack(file_blocks[:1] + blocks + file_blocks[1:])
    return messages or [OutMessage(content="✅ Done.")]


def _text_blocks(text: str, files: dict[str, Attachment]) -> list[OutMessage]:
    if not text:
        return []
    chunks = split_text(text, CONTENT_MAX)
    if len(chunks) > TEXT_MESSAGES_MAX:
        note = "\n*(The full text is attached as message.txt.)*"
        files["message.txt"] = Attachment("message.txt", text.encode(), "text/plain", "The full text")
        chunks = [split_text(text, CONTENT_MAX - len(note))[0] + note]
    return [OutMessage(content=chunk) for chunk in chunks]


def _card_blocks(card: Card, unique: ids.UniqueIds, files: dict[str, Attachment]) -> list[OutMessage]:
    image, own_files = card.image, []
    name = image.removeprefix("attachment://")
    if name in files:
        own_files.append(files.pop(name))
        image = f"attachment://{name}"
    embeds = card_embeds(card, image)
    return _row_blocks(embeds, control_rows(card.actions, unique), own_files)


def _row_blocks(embeds: list[discord.Embed], rows: list[Row], files: list[Attachment]) -> list[OutMessage]:
    """Embeds grouped by the message limits; the rows (5 per message) follow the last group."""
    blocks: list[OutMessage] = []
    for embed in embeds:
        last = blocks[-1] if blocks else None
        if last is None or len(last.embeds) >= EMBEDS_MAX or last.embed_chars + len(embed) > EMBED_TOTAL:
            blocks.append(OutMessage())
        blocks[-1].embeds.append(embed)
    if files:
        if not blocks:
            blocks.append(OutMessage())
        blocks[0].files.extend(files)
    for start in range(0, len(rows), ROWS_MAX):
        if not blocks or blocks[-1].rows:
            blocks.append(OutMessage())
        blocks[-1].rows.extend(rows[start:start + ROWS_MAX])
        blocks[-1].closed = True
    return blocks


def pack(blocks: list[OutMessage]) -> list[OutMessage]:
    """Merge consecutive blocks into as few messages as the limits and the reading order allow."""
    messages: list[OutMessage] = []
    for block in blocks:
        current = messages[-1] if messages else None
        if current is not None and _fits(current, block):
            current.content = current.content or block.content
            current.embeds += block.embeds
            current.rows += block.rows
            current.files += block.files
            current.closed = block.closed
        else:
            messages.append(OutMessage(block.content, list(block.embeds), list(block.rows), list(block.files),
                                       block.closed))
    return messages


def _fits(current: OutMessage, block: OutMessage) -> bool:
    if current.closed or (block.content and (current.content or current.embeds or current.rows)):
        return False
    return (len(current.embeds) + len(block.embeds) <= EMBEDS_MAX
            and current.embed_chars + block.embed_chars <= EMBED_TOTAL
            and len(current.rows) + len(block.rows) <= ROWS_MAX
            and len(current.files) + len(block.files) <= FILES_MAX)


def card_embeds(card: Card, image: str = "") -> list[discord.Embed]:
    """A card as one embed, continued in more embeds when its text or fields exceed one embed's limits."""
    title, text = to_discord(card.title), to_discord(card.text)
    if len(title) > TITLE_MAX:
        text = f"**{title}**\n{text}"
    chunks = split_text(text, DESCRIPTION_MAX) if text else []
    embeds = [discord.Embed(title=shorten(title, TITLE_MAX) or None, description=chunks[0] if chunks else None,
                            colour=COLOUR)]
    embeds += [discord.Embed(description=chunk, colour=COLOUR) for chunk in chunks[1:]]
    for item in card.fields:
        label = shorten(to_discord(item.label) or "\u200b", FIELD_NAME_MAX)
        for number, value in enumerate(split_text(to_discord(item.value) or "—", FIELD_VALUE_MAX)):
            name = label if number == 0 else shorten(f"{label} (continued)", FIELD_NAME_MAX)
            embed = embeds[-1]
            if len(embed.fields) >= FIELDS_MAX or len(embed) + len(name) + len(value) > EMBED_TOTAL:
                embed = discord.Embed(colour=COLOUR)
                embeds.append(embed)
            embed.add_field(name=name, value=value, inline=len(value) <= 40 and "\n" not in value)
    if image:
        embeds[0].set_image(url=image)
    return embeds
