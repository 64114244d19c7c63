"""End to end through Slack: an update's plan in the deployment's thread with the plan as a file and no button,
Apply clicked twice in the owner's direct message and applied once, a bystander seeing no Apply anywhere; a
destroy naming its dependents, then discarded, its status message edited to say so; a plan that changes nothing."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from bot.processes import messengers
from bot.worker import Worker
from storage.db import Database
from storage.models import Deployment, StoredSecret
from tests.integration.test_plan_review import Seen, plan_review_scenario
from tests.support.slack_deploy_steps import ROOM, UMA, buttons, click, fill, platform, since, worker
from tests.support.slack_support import Harness, emulator, harness, slack_runtime, slack_stamp, texts

BYSTANDER = {"user": "UBYSTANDER", "name": "bystander"}
"""A plain user in the deployment's channel."""

__all__ = ["emulator", "harness", "platform", "slack_runtime"]


class SlackReviewDoor:
    """Signed requests to the real Bolt app, Uma clicking in ``ROOM``; the worker reports through the Web API."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness

    @staticmethod
    def seen(message: dict[str, Any], files: dict[str, bytes] | None = None) -> Seen:
        return Seen(texts(message), {name: message for name in buttons(message)}, files or {})

    async def deploy(self, module: str, answers: dict[str, str]) -> Seen:
        before = len(self.harness.emulator.calls("views.open"))
        answer = self.harness.command(f"deploy {module}", channel=ROOM, **UMA)
        assert (answer.status, answer.body) == (200, "")
        view = self.harness.emulator.wait_for("views.open", count=before + 1)[-1].body["view"]
        return self.seen(fill(self.harness, view, UMA, answers))

    async def click(self, seen: Seen, action_id: str, times: int = 1) -> list[Seen]:
        message = seen.buttons[action_id]
        answers = [click(self.harness, message, action_id, UMA, stamp=slack_stamp()) for _ in range(times)]
        return [self.seen({**self.harness.reply(a), "channel": ROOM}) for a in answers]

    async def show(self, short: str) -> Seen:
        return self.seen({**self.harness.reply(self.harness.command(f"deployment {short}", channel=ROOM, **UMA)),
                          "channel": ROOM})

    async def update(self, short: str, answers: dict[str, str]) -> Seen:
        card = await self.show(short)
        before = len(self.harness.emulator.calls("views.open"))
        assert click(self.harness, card.buttons["deployment:update"], "deployment:update", UMA).status == 200
        view = self.harness.emulator.wait_for("views.open", count=before + 1)[-1].body["view"]
        return self.seen(fill(self.harness, view, UMA, answers))

    async def direct_message(self) -> Seen:
        outbox = Worker(self.harness.runtime, messengers(self.harness.runtime))
        while outbox.run_once():  # the outbox's posts and edits, as a worker delivers them after the commit
            pass
        *_, last = [c for c in self.harness.emulator.calls("chat.postMessage") if c.body["channel"] == UMA["user"]]
        return self.seen({**last.body, "channel": UMA["user"]})

    async def bystander_show(self, short: str) -> Seen:
        return self.seen({**self.harness.reply(self.harness.command(f"deployment {short}", channel=ROOM,
                                                                    **BYSTANDER)), "channel": ROOM})

    def public_buttons(self) -> set[str]:
        calls = self.harness.emulator.calls("chat.postMessage") + self.harness.emulator.calls("chat.update")
        return {name for c in calls if c.body.get("channel") == ROOM for name in buttons(c.body)}

    def status_message(self, short: str) -> str:
        with self.harness.runtime.db.unit_of_work() as s:
            ts = s.scalars(select(Deployment.chat_message).where(Deployment.short_id == short)).one()
        found = self.harness.emulator.message(ROOM, ts)
        assert found is not None, "the status message is in the channel"
        return texts(found)

    async def run_worker(self) -> Seen:
        mark = time.monotonic()
        assert worker(self.harness).run_once()
        *_, result = since(self.harness, mark, "chat.postMessage")
        assert result.body["thread_ts"]  # in the deployment's thread
        names = [c.body["filename"] for c in since(self.harness, mark, "files.getUploadURLExternal")]
        uploads = [c.raw for c in self.harness.emulator.calls() if c.path.startswith("/upload/") and c.at >= mark]
        for done in since(self.harness, mark, "files.completeUploadExternal"):
            assert done.body["thread_ts"] == result.body["thread_ts"]  # the plan goes in the same thread
        return self.seen({**result.body, "channel": ROOM}, dict(zip(names, uploads, strict=True)))


async def test_plan_review_through_slack(platform: Harness, db: Database) -> None:
    await plan_review_scenario(SlackReviewDoor(platform), db)
    sent = "\n".join(repr(c.body) + c.raw.decode("utf-8", "replace") for c in platform.emulator.calls())
    with db.unit_of_work() as s:
        sealed = [row.ciphertext for row in s.scalars(select(StoredSecret))]
    assert sealed and not any(ciphertext in sent for ciphertext in sealed)  # no sealed plan or state reached Slack
