"""End to end on Discord: follow-ups, deferring slow work, confirmations and selects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from commands import load_registry
from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Registry
from commands.ui.model import Attachment, Button, Card, Confirm, Form, Input, Option, Reply, Select
from core.config import Config
from storage.db import Database
from tests.support.discord_harness import Harness, custom_id_of, running_bot

EPHEMERAL = 64
LONG_TEXT = "\n".join(f"line {n}: " + "word " * 15 for n in range(60))


def delivery_registry() -> Registry:
    base = load_registry()
    registry = replace(base, commands=dict(base.commands), actions=dict(base.actions))

    @registry.command("long", "A long answer")
    def long(ctx: Context) -> Reply:
        return Reply(text=LONG_TEXT)

    @registry.command("announce", "A public answer")
    def announce(ctx: Context) -> Reply:
        return Reply(text="Hello, channel", ephemeral=False)

    @registry.command("report", "A chart and a CSV")
    def report(ctx: Context) -> Reply:
        chart = Attachment("chart.png", b"\x89PNG fake", "image/png")
        csv = Attachment("revenue.csv", b"month,amount\n2026-01,12.50\n", "text/csv")
        return Reply(text="Revenue", cards=(Card("January", image="chart.png"),), attachments=(chart, csv))

    @registry.command("ask", "A form")
    def ask(ctx: Context) -> Form:
        return Form("Ask", "ask:save", (Input("q", "Question"),))

    @registry.command("things", "Buttons and a select")
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
async def bot(db: Database, config: Config) -> AsyncIterator[Harness]:
    async with running_bot(db, config, registry=delivery_registry()) as harness:
        yield harness


async def test_a_long_answer_continues_in_follow_ups_despite_a_429(bot: Harness) -> None:
    bot.emulator.rate_limit("POST", r"/webhooks/\d+/[^/]+", times=1, retry_after=0.05)
    bot.slash("long")
    [answer] = await bot.callbacks()
    follow_ups = await bot.emulator.wait_for("POST", r"/webhooks/\d+/[^/]+", count=2)
    assert [answer.json["data"]["flags"], *(f.json["flags"] for f in follow_ups)] == [EPHEMERAL] * 3
    assert "\n".join([answer.json["data"]["content"], *(f.json["content"] for f in follow_ups)]) == LONG_TEXT
    assert len(bot.emulator.find("POST", r"/webhooks/.*", ok=False)) == 3
    bot.validate_all()


async def test_files_go_as_multipart_with_the_embed_showing_the_chart(bot: Harness) -> None:
    bot.slash("report")
    [answer] = await bot.callbacks()
    assert sorted(f.filename for f in answer.files) == ["chart.png", "revenue.csv"]
    assert answer.json["data"]["embeds"][0]["image"]["url"] == "attachment://chart.png"
    assert {f.filename: f.content for f in answer.files}["revenue.csv"].startswith(b"month,amount")
    assert sorted(a["filename"] for a in answer.json["data"]["attachments"]) == ["chart.png", "revenue.csv"]


async def test_confirm_then_run_or_cancel(bot: Harness) -> None:
    bot.slash("things")
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


async def test_a_select_sends_the_chosen_values(bot: Harness) -> None:
    bot.slash("things")
    [listing] = await bot.callbacks()
    assert listing.message is not None
    bot.click(listing.message, "rads|thing:pick|", component_type=3, values=["t0", "t2"])
    [_, picked] = await bot.callbacks(2)
    assert picked.json["data"]["content"] == "Picked t0, t2."


async def test_slow_work_is_deferred_first(db: Database, config: Config) -> None:
    async with running_bot(db, config, registry=delivery_registry(), defer_after=0.0) as bot:
        bot.slash("announce")
        [defer] = await bot.callbacks()
        assert defer.json == {"type": 5, "data": {"flags": EPHEMERAL}}
        [note] = await bot.emulator.wait_for("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
        [public] = await bot.emulator.wait_for("POST", r"/webhooks/\d+/[^/]+")
        assert note.json["content"] == "✅ Done." and public.json["content"] == "Hello, channel"
        assert not public.json.get("flags")

        bot.slash("things")
        await bot.callbacks(2)
        [_, listing] = await bot.emulator.wait_for("PATCH", r"/webhooks/\d+/[^/]+/messages/@original", count=2)
        assert listing.message is not None
        bot.click(listing.message, "radc|thing:delete|7")
        bot.click(listing.message, "rads|thing:pick|", component_type=3, values=["t1"])
        calls = await bot.callbacks(4)
        assert {c.json["type"] for c in calls[2:]} == {4, 6}, "a confirm question is immediate; an action defers"
        [_, picked] = await bot.emulator.wait_for("POST", r"/webhooks/\d+/[^/]+", count=2)
        assert picked.json["content"] == "Picked t1." and picked.json["flags"] == EPHEMERAL

        bot.slash("ask")
        await bot.callbacks(5)
        edits = await bot.emulator.wait_for("PATCH", r"/webhooks/\d+/[^/]+/messages/@original", count=3)
        assert edits[-1].json["components"][0]["components"][0]["label"] == "Open the form"
        bot.validate_all()
