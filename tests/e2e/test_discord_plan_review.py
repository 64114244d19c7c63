"""End to end on Discord: an update's plan in the deployment's thread with the plan as a file and no button,
Apply clicked twice in the owner's direct message and applied once, a bystander seeing no Apply anywhere; a
destroy naming its dependents, then discarded, its status message edited to say so; a plan that changes nothing.
Every payload is checked against Discord's API description."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.processes import messengers
from bot.worker import Worker
from storage.db import Database
from storage.models import Deployment
from tests.emulators.discord import Call
from tests.integration.test_plan_review import Seen, plan_review_scenario
from tests.support.discord_deploy_steps import EPHEMERAL, answers_for, bot, button, callback, click, run_worker
from tests.support.discord_deploy_steps import seen as seen_call
from tests.support.discord_harness import CHANNEL_ID, USER_ID, Harness, components_of

__all__ = ["bot"]

BYSTANDER_ID = "777000000000000777"
"""A plain user in the guild, who is not the owner."""


def seen(call: Call) -> Seen:
    """A callback or a channel message as the scenario reads it, with its attached files."""
    shown = seen_call(call)
    return Seen(shown.text, shown.buttons, {f.filename: f.content for f in call.files})


class DiscordReviewDoor:
    """Interactions fed to the real discord.py client (Uma clicking); the worker reports through REST."""

    def __init__(self, bot: Harness) -> None:
        self.bot = bot
        self.public: set[str] = set()

    async def _form_to_confirmation(self, number: int, answers: dict[str, str]) -> Seen:
        """Submit every modal step from callback ``number`` on; the private confirmation."""
        while True:
            shown = await callback(self.bot, number)
            body: dict[str, Any] = shown.json
            if body["type"] == 9:
                modal = body["data"]
                self.bot.submit(modal["custom_id"], answers_for(modal, answers), user_id=USER_ID)
            elif any(str(c.get("custom_id", "")).startswith("radn|") for c in components_of(body)):
                assert shown.message is not None  # "Continue": a modal cannot open another modal
                [step] = [c["custom_id"] for c in components_of(body) if c["custom_id"].startswith("radn|")]
                self.bot.click(shown.message, step, user_id=USER_ID)
            else:
                assert body["type"] == 4 and body["data"]["flags"] & EPHEMERAL, body
                return seen(shown)
            number += 1

    def _fresh(self) -> None:
        self.bot.validate_all()  # what was sent so far; then callbacks count from one again
        self.bot.emulator.clear()

    async def deploy(self, module: str, answers: dict[str, str]) -> Seen:
        self._fresh()
        self.bot.slash("deploy", {"module": module}, user_id=USER_ID)
        return await self._form_to_confirmation(1, answers)

    async def click(self, shown: Seen, action_id: str, times: int = 1) -> list[Seen]:
        """Click ``action_id``; a button with a confirmation asks privately first, and is confirmed."""
        message, custom_id = shown.buttons[action_id]
        answers = [seen(c) for c in await click(self.bot, message, custom_id, times=times)]
        return [await self._confirmed(answer, action_id) for answer in answers]

    async def _confirmed(self, answer: Seen, action_id: str) -> Seen:
        if "Are you sure?" not in answer.text:
            return answer
        [done] = await self.click(answer, action_id)
        return done

    async def show(self, short: str) -> Seen:
        before = len(await self.bot.callbacks(0))
        self.bot.slash("deployment", {"id": short}, user_id=USER_ID)
        return seen((await self.bot.callbacks(before + 1, timeout=10))[before])

    async def update(self, short: str, answers: dict[str, str]) -> Seen:
        self._fresh()
        self.bot.slash("deployment", {"id": short}, user_id=USER_ID)
        card = await callback(self.bot, 1)
        update = button(card, "deployment:update")
        assert card.message is not None and update is not None
        self.bot.click(card.message, update, user_id=USER_ID)
        return await self._form_to_confirmation(2, answers)

    async def run_worker(self) -> Seen:
        before = len(self.bot.emulator.find("POST", r"/channels/\d+/messages"))
        await run_worker(self.bot)
        posted = self.bot.emulator.find("POST", r"/channels/\d+/messages")[before:]
        *_, result = posted
        assert result.path != f"/channels/{CHANNEL_ID}/messages"  # in the status message's thread
        self._note(posted + self.bot.emulator.find("PATCH", r"/channels/\d+/messages/\d+"))
        return seen(result)

    def _note(self, calls: list[Call]) -> None:
        """Keep the buttons of what was posted or edited outside the owner's DM (the emulator is cleared later)."""
        dm = f"/channels/{self.bot.emulator.dm_channel_id(USER_ID)}/"
        self.public |= {name for c in calls if not c.path.startswith(dm) for name in seen(c).buttons}

    async def direct_message(self) -> Seen:
        found = messengers(self.bot.runtime)
        try:
            outbox = Worker(self.bot.runtime, found)
            while await asyncio.to_thread(outbox.run_once):  # the outbox, as a worker delivers it after the commit
                pass
        finally:
            for messenger in found.values():
                close = getattr(messenger, "close", None)
                if close is not None:
                    await asyncio.to_thread(close)
        self._note(self.bot.emulator.find("POST", r"/channels/\d+/messages")
                   + self.bot.emulator.find("PATCH", r"/channels/\d+/messages/\d+"))
        *_, last = self.bot.emulator.find("POST", rf"/channels/{self.bot.emulator.dm_channel_id(USER_ID)}/messages")
        return seen(last)

    async def bystander_show(self, short: str) -> Seen:
        before = len(await self.bot.callbacks(0))
        self.bot.slash("deployment", {"id": short}, user_id=BYSTANDER_ID)
        return seen((await self.bot.callbacks(before + 1, timeout=10))[before])

    def public_buttons(self) -> set[str]:
        return set(self.public)

    def status_message(self, short: str) -> str:
        with self.bot.runtime.db.unit_of_work() as s:
            message = s.scalars(select(Deployment.chat_message).where(Deployment.short_id == short)).one()
        calls = [c for c in self.bot.emulator.calls if c.message is not None and str(c.message["id"]) == message
                 and c.method in ("POST", "PATCH")]
        assert calls, "the status message was posted or edited since the last check"
        return seen(calls[-1]).text


async def test_plan_review_through_discord(bot: Harness, db: Database) -> None:
    await plan_review_scenario(DiscordReviewDoor(bot), db)
    bot.validate_all()
