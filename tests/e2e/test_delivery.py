"""How answers are delivered, through every front door: a long answer arrives whole, files come with their
answer (publicly or privately), a dangerous button asks first, a select sends every chosen value. Then what
only Discord has: files as multipart with an embed showing the chart, its two-step confirm's Cancel, and the
fallback deferral of slow work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from commands import load_registry
from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Registry
from commands.ui.model import Attachment, Button, Card, Confirm, Form, Input, Option, Reply, Select
from core.config import Config
from storage.db import Database
from tests.support import slack_support as sh
from tests.support.discord_harness import Harness, custom_id_of, running_bot
from tests.support.front_door import FrontDoor, door
from tests.support.front_door import Reply as Seen
from tests.support.slack_support import emulator, harness, slack_runtime

__all__ = ["door", "emulator", "harness", "slack_runtime"]

EPHEMERAL = 64
LONG_TEXT = "\n".join(f"line {n}: " + "word " * 15 for n in range(60))


def delivery_registry() -> Registry:
    """The shared registry plus commands answering with long text, files, a dangerous button and a select.

    The commands are one ``test`` group: Discord holds at most 25 subcommands under ``/rad``.
    """
    registry = load_registry().copy()

    @registry.command("test long", "A long answer")
    def long(ctx: Context) -> Reply:
        return Reply(text=LONG_TEXT)

    @registry.command("test announce", "A public answer")
    def announce(ctx: Context) -> Reply:
        return Reply(text="Hello, channel", ephemeral=False)

    @registry.command("test report", "A chart and a CSV")
    def report(ctx: Context) -> Reply:
        chart = Attachment("chart.png", b"\x89PNG fake", "image/png")
        csv = Attachment("revenue.csv", b"month,amount\n2026-01,12.50\n", "text/csv")
        return Reply(text="Revenue", cards=(Card("January", image="chart.png"),), attachments=(chart, csv))

    @registry.command("test chart", "Send a chart")
    def chart(ctx: Context) -> Reply:
        return Reply(text="Here is your chart.", ephemeral=False,
                     attachments=(Attachment("chart.png", b"\x89PNG fake", "image/png", "Revenue"),))

    @registry.command("test export", "Send a private export")
    def export(ctx: Context) -> Reply:
        return Reply(text="Your export.", attachments=(Attachment("users.csv", b"id,name\n1,a\n", "text/csv"),))

    @registry.command("test ask", "A form")
    def ask(ctx: Context) -> Form:
        return Form("Ask", "ask:save", (Input("q", "Question"),))

    @registry.command("test things", "Buttons and a select")
    def things(ctx: Context) -> Reply:
        options = tuple(Option(f"Thing {n}", f"t{n}") for n in range(3))
        return Reply(text="Things", actions=(
            Button("Delete", "thing:delete", "7", style="danger", confirm=Confirm("Delete?", "It goes away.")),
            Select("thing:pick", options, multi=True)))

    @registry.action("thing:delete")
    def delete(ctx: Context, event: ActionEvent) -> Reply:
        return Reply(text=f"Deleted thing {event.value}.", replace_original=True)

    @registry.action("thing:pick")
    def pick(ctx: Context, event: ActionEvent) -> Reply:
        return Reply(text=f"Picked {', '.join(event.selected)}.")

    return registry


@pytest.fixture
def door_registry() -> Registry:
    return delivery_registry()


def says(door: FrontDoor, reply: Seen, text: str) -> bool:
    """Whether ``reply`` says ``text``: exactly on Discord; on Slack as one of its lines (Slack repeats the text
    as the notification's fallback)."""
    return reply.text == text if door.platform == "discord" else text in reply.text.split("\n")


# -- through every door ------------------------------------------------------------------------------------


async def test_a_long_answer_arrives_whole_and_privately(door: FrontDoor) -> None:
    if door.platform == "discord":  # the first follow-up is refused once with a 429, then sent again
        door.harness.emulator.rate_limit("POST", r"/webhooks/\d+/[^/]+", times=1,  # type: ignore[attr-defined]
                                         retry_after=0.05)
    reply = await door.command("test long")
    assert reply.private and all(line.strip() in reply.text for line in LONG_TEXT.splitlines())
    if door.platform == "discord":  # 2000 characters a message: the rest follows in private follow-ups
        assert len(reply.parts) == 3 and reply.marked == LONG_TEXT
        assert len(door.harness.emulator.find("POST", r"/webhooks/.*", ok=False)) == 3  # type: ignore[attr-defined]
    else:  # one message, in sections of at most 3000 characters
        assert len(reply.parts) == 1 and len(reply.raw["blocks"]) == 2


async def test_files_come_with_their_answer_in_public_and_in_private(door: FrontDoor) -> None:
    chart = await door.command("test chart")
    assert not chart.private and "Here is your chart." in chart.text
    door.settle()
    export = await door.command("test export")
    assert export.private and "Your export." in export.text
    files = door.files()
    assert files["chart.png"] == b"\x89PNG fake" and files["users.csv"] == b"id,name\n1,a\n"
    if door.platform == "slack":  # uploaded to the channel; a private answer's file goes by direct message
        emulator = door.harness.emulator  # type: ignore[attr-defined]
        public, private = emulator.calls("files.completeUploadExternal")
        assert public.body["channel_id"] == sh.CHANNEL and public.body["files"][0]["title"] == "Revenue"
        assert "direct messages" in export.text
        (opened,) = emulator.calls("conversations.open")
        assert opened.body["users"] == sh.ADMIN and private.body["channel_id"] == "DADMIN"
    else:  # each answer carries its own file
        assert [a["filename"] for a in chart.raw["data"]["attachments"]] == ["chart.png"]
        assert [a["filename"] for a in export.raw["data"]["attachments"]] == ["users.csv"]
        assert export.raw["data"]["flags"] & EPHEMERAL


async def test_a_dangerous_button_asks_first_then_runs(door: FrontDoor) -> None:
    things = await door.command("test things")
    done = await door.click_danger(things)  # Slack: its own confirm dialog; Discord: a private question first
    assert done.replaced and says(door, done, "Deleted thing 7.")


async def test_a_select_sends_the_chosen_values(door: FrontDoor) -> None:
    things = await door.command("test things")
    assert things.select().multi and things.select().options == ["t0", "t1", "t2"]
    picked = await door.pick(things, ["t0", "t2"])
    assert says(door, picked, "Picked t0, t2.")


# -- Discord only ------------------------------------------------------------------------------------------


@pytest.fixture
async def bot(db: Database, config: Config) -> AsyncIterator[Harness]:
    async with running_bot(db, config, registry=delivery_registry()) as harness:
        yield harness


async def test_discord_files_go_as_multipart_with_the_embed_showing_the_chart(bot: Harness) -> None:
    """Discord shows an attached image in an embed by ``attachment://`` (Slack needs a public URL instead)."""
    bot.slash("test report")
    [answer] = await bot.callbacks()
    assert sorted(f.filename for f in answer.files) == ["chart.png", "revenue.csv"]
    assert answer.json["data"]["embeds"][0]["image"]["url"] == "attachment://chart.png"
    assert {f.filename: f.content for f in answer.files}["revenue.csv"].startswith(b"month,amount")
    assert sorted(a["filename"] for a in answer.json["data"]["attachments"]) == ["chart.png", "revenue.csv"]


async def test_discord_confirm_then_run_or_cancel(bot: Harness) -> None:
    """Discord has no confirm dialog: a private question with Confirm and Cancel stands in for it."""
    bot.slash("test things")
    [listing] = await bot.callbacks()
    assert listing.message is not None
    bot.click(listing.message, custom_id_of(listing.json, "Delete"))
    [_, question] = await bot.callbacks(2)
    assert question.json["data"]["flags"] & EPHEMERAL
    assert "**Are you sure?** Delete" in question.json["data"]["content"]
    assert question.message is not None
    bot.click(question.message, custom_id_of(question.json, "Confirm"))
    [*_, done] = await bot.callbacks(3)
    assert done.json["type"] == 7 and done.json["data"]["content"] == "Deleted thing 7."

    bot.click(listing.message, custom_id_of(listing.json, "Delete"))
    [*_, again] = await bot.callbacks(4)
    assert again.message is not None
    bot.click(again.message, custom_id_of(again.json, "Cancel"))
    [*_, cancelled] = await bot.callbacks(5)
    assert cancelled.json["type"] == 7 and cancelled.json["data"]["content"] == "Cancelled."


async def test_discord_slow_work_is_deferred_first(db: Database, config: Config) -> None:
    """Discord drops an interaction not answered within 3 seconds: work taking longer is deferred first."""
    async with running_bot(db, config, registry=delivery_registry(), defer_after=0.0) as bot:
        bot.slash("test announce")
        [defer] = await bot.callbacks()
        assert defer.json == {"type": 5, "data": {"flags": EPHEMERAL}}
        [note] = await bot.emulator.wait_for("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
        [public] = await bot.emulator.wait_for("POST", r"/webhooks/\d+/[^/]+")
        assert note.json["content"] == "✅ Done." and public.json["content"] == "Hello, channel"
        assert not public.json.get("flags")

        bot.slash("test things")
        await bot.callbacks(2)
        [_, listing] = await bot.emulator.wait_for("PATCH", r"/webhooks/\d+/[^/]+/messages/@original", count=2)
        assert listing.message is not None
        bot.click(listing.message, "radc|thing:delete|7")
        bot.click(listing.message, "rads|thing:pick|", component_type=3, values=["t1"])
        calls = await bot.callbacks(4)
        assert {c.json["type"] for c in calls[2:]} == {4, 6}, "a confirm question is immediate; an action defers"
        [_, picked] = await bot.emulator.wait_for("POST", r"/webhooks/\d+/[^/]+", count=2)
        assert picked.json["content"] == "Picked t1." and picked.json["flags"] == EPHEMERAL

        bot.slash("test ask")
        await bot.callbacks(5)
        edits = await bot.emulator.wait_for("PATCH", r"/webhooks/\d+/[^/]+/messages/@original", count=3)
        assert edits[-1].json["components"][0]["components"][0]["label"] == "Open the form"
        bot.validate_all()
