"""``/rad home`` through every front door: the same Home the Slack tab shows, as a private reply with its buttons.

One scenario runs against Slack (the slash command through the real Bolt app) and Discord (the real discord.py
client); the console gets the same view as numbered choices.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from sqlalchemy import select

from bot.console import Console, console_caller
from bot.demo import seed
from commands.framework.dispatch import Dispatcher
from core.accounts.identity import Caller, IdentityKey
from core.config import Config
from core.services import Services
from storage.db import Database
from storage.models import ModulePin
from tests.support.front_door import FrontDoor, Person, door, door_registry
from tests.support.slack_support import emulator, harness, slack_runtime

__all__ = ["door", "door_registry", "emulator", "harness", "slack_runtime"]

UMA = Person("uma")


def seeded(db: Database, config: Config) -> None:
    """The example modules published by the demo admin."""
    seed(db, Services(config), Caller(IdentityKey("console", "", "demo-admin"), "demo"))


async def test_home_shows_credits_deployments_and_pins_with_buttons(door: FrontDoor, db: Database,
                                                                    config: Config) -> None:
    seeded(db, config)
    await door.command("whoami", user=UMA)
    awarded = await door.command("admin credits", {"user": UMA, "kind": "award", "amount": "40"})
    assert "40" in awarded.text
    await door.command("pin", {"module": "network-plan"}, user=UMA)

    shown = await door.command("home", user=UMA)
    assert shown.private
    assert "Credits" in shown.text and "40 credits" in shown.text, shown.text
    assert "Deployments (0)" in shown.text and "Pinned modules (1)" in shown.text and "network-plan" in shown.text
    for label in ("Deploy", "Details", "Unpin"):
        shown.button(label)

    await door.click(shown, "Unpin", user=UMA)
    with db.unit_of_work() as session:
        assert session.scalars(select(ModulePin)).all() == []
    again = await door.command("home", user=UMA)
    assert "Pinned modules (0)" in again.text and "Nothing pinned" in again.text


def test_the_console_shows_home_as_numbered_choices(dispatcher: Dispatcher, db: Database, config: Config,
                                                    tmp_path: Path) -> None:
    seeded(db, config)
    out = io.StringIO()
    lines = iter(["pin static-site", "home", "UNPIN", "", "quit"])

    def read(prompt: str) -> str:
        line = next(lines)
        if line == "UNPIN":  # the number the console gave the Home's Unpin button
            [number] = re.findall(r"\[(\d+)\] Unpin", out.getvalue())
            return str(number)
        return line

    console = Console(dispatcher, console_caller("console:ada"), tmp_path / "files", read=read,
                      read_secret=lambda _: "", out=out)
    console.loop()
    text = out.getvalue()
    assert "Your RAD home" in text and "Credits" in text and "Pinned modules (1)" in text and "static-site" in text
    assert "[" in text and "] Deploy" in text
    with db.unit_of_work() as session:
        assert session.scalars(select(ModulePin)).all() == []  # the Home's Unpin button worked
