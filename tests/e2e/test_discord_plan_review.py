"""End to end on Discord: an update's plan in the deployment's thread with the plan as a file, Apply clicked
twice and applied once; a destroy naming its dependents, then discarded; a plan that changes nothing. Every
payload is checked against Discord's API description."""

from __future__ import annotations

from typing import Any

from storage.db import Database
from tests.emulators.discord import Call
from tests.integration.test_plan_review import Seen, plan_review_scenario
from tests.support.discord_deploy_steps import EPHEMERAL, answers_for, bot, button, callback, click, run_worker
from tests.support.discord_deploy_steps import seen as seen_call
from tests.support.discord_harness import CHANNEL_ID, USER_ID, Harness, components_of

__all__ = ["bot"]


def seen(call: Call) -> Seen:
    """A callback or a channel message as the scenario reads it, with its attached files."""
    shown = seen_call(call)
    return Seen(shown.text, shown.buttons, {f.filename: f.content for f in call.files})


class DiscordReviewDoor:
    """Interactions fed to the real discord.py client (Uma clicking); the worker reports through REST."""

    def __init__(self, bot: Harness) -> None:
        self.bot = bot

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
        *_, result = self.bot.emulator.find("POST", r"/channels/\d+/messages")[before:]
        assert result.path != f"/channels/{CHANNEL_ID}/messages"  # in the status message's thread
        return seen(result)


async def test_plan_review_through_discord(bot: Harness, db: Database) -> None:
    await plan_review_scenario(DiscordReviewDoor(bot), db)
    bot.validate_all()
