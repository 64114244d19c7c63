"""The console front door driven like a person at a terminal (scripted input)."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import select

from bot.console import Console, console_caller
from bot.demo import seed
from commands.framework.dispatch import Dispatcher
from commands.ui.model import Attachment, Reply
from storage.db import Database
from storage.models import User, UserPreference


def make_console(dispatcher: Dispatcher, tmp_path: Path, answers: list[str], secrets: list[str] | None = None,
                 identity: str = "slack:T1:UADMIN") -> tuple[Console, io.StringIO, list[str]]:
    out, prompts = io.StringIO(), []
    lines, hidden = iter(answers), iter(secrets or [])

    def read(prompt: str) -> str:
        prompts.append(prompt)
        return next(lines)

    def read_secret(prompt: str) -> str:
        prompts.append(prompt)
        return next(hidden)

    console = Console(dispatcher, console_caller(identity), tmp_path / "files", read=read,
                      read_secret=read_secret, out=out)
    return console, out, prompts


def test_buttons_are_numbered_choices(dispatcher: Dispatcher, db: Database, tmp_path: Path) -> None:
    with db.unit_of_work() as s:
        for n in range(11):
            from core.accounts.identity import IdentityKey, create_user
            create_user(s, IdentityKey("console", "", f"u{n:02}"), f"u{n:02}")
    console, out, _ = make_console(dispatcher, tmp_path, ["/rad admin users", "1", "", "quit"])
    console.loop()
    text = out.getvalue()
    assert "[1] Next ▶" in text and "page 2 of 2" in text


def test_forms_are_asked_field_by_field_and_errors_asked_again(
    dispatcher: Dispatcher, db: Database, tmp_path: Path
) -> None:
    # name blank -> default kept; then "n" for deployments; then Enter keeps billing on
    console, out, prompts = make_console(dispatcher, tmp_path, ["profile", "  Ada Lovelace ", "n", "", "quit"])
    console.loop()
    assert any(p.startswith("Display name") for p in prompts)
    assert "Saved. You are *Ada Lovelace*" in out.getvalue()
    with db.unit_of_work() as s:
        user = s.scalars(select(User).where(User.display_name == "Ada Lovelace")).one()
        prefs = s.get_one(UserPreference, user.id)
        assert (prefs.notify_deployments, prefs.notify_billing) == (False, True)


def test_secret_inputs_are_read_without_echo(dispatcher: Dispatcher, tmp_path: Path) -> None:
    from commands.ui.model import Form, Input

    console, out, prompts = make_console(dispatcher, tmp_path, [], secrets=["ghp_topsecret"])
    value = console.ask_input(Input("token", "GitHub token", kind="secret"), None)
    assert value == "ghp_topsecret" and prompts == ["GitHub token (hidden): "]
    assert "ghp_topsecret" not in out.getvalue()
    assert Form("t", "x", ()).inputs == ()


def test_attachments_are_written_to_the_folder(dispatcher: Dispatcher, tmp_path: Path) -> None:
    console, out, _ = make_console(dispatcher, tmp_path, [])
    console.show(Reply(text="report", attachments=(Attachment("../evil/chart.png", b"\x89PNG", "image/png"),)))
    written = tmp_path / "files" / "chart.png"
    assert written.read_bytes() == b"\x89PNG" and str(written) in out.getvalue()


def test_demo_seed_is_idempotent_and_makes_an_admin(dispatcher: Dispatcher, db: Database) -> None:
    caller = console_caller("newcomer")
    first = seed(db, dispatcher.services, caller)
    assert seed(db, dispatcher.services, caller) == []
    assert "console:newcomer is now admin" in first
    assert "published budget-alerts, data-bucket, ml-notebook, network-plan, static-site" in first
    reply = dispatcher.run_text(caller, "admin users")
    assert isinstance(reply, Reply) and "Pat Partner" in reply.text
    catalog = dispatcher.run_text(caller, "modules platform")
    assert isinstance(catalog, Reply) and len(catalog.cards) == 5


def test_every_command_through_the_console(dispatcher: Dispatcher, db: Database, tmp_path: Path) -> None:
    """help, whoami, link, profile and the admin commands, typed as a person would."""
    script = [
        "/rad help", "help admin revoke", "whoami", "link",
        "admin grant @bob partner", "admin users", "", "admin revoke @bob partner",
        "profile", "Ada", "", "", "adminn users", "quit",
    ]
    console, out, _ = make_console(dispatcher, tmp_path, script, identity="console:ada")
    seed(db, dispatcher.services, console.caller)
    console.loop()
    text = out.getvalue()
    for expected in (
        "*RAD commands you can use*", "Usage: `/rad admin revoke <@user> user|partner|finance|admin`",
        "── ada (user ", "Your link code is", "*bob* is now a partner", "*Users* (page 1 of 1, 5 in all)",
        "*bob* is no longer a partner", "== Your RAD profile", "Saved. You are *Ada*",
        "Did you mean `/rad admin users`",
    ):
        assert expected in text, expected


def test_long_selects_are_searched(dispatcher: Dispatcher, db: Database, tmp_path: Path) -> None:
    from commands.ui.model import Option, Select

    registry = dispatcher.registry.copy()

    @registry.options_provider("test:colours")
    def colours(ctx: object, query: str, value: str) -> list[Option]:
        return [Option(f"colour {n}", str(n)) for n in range(50) if query in str(n)]

    searching = Dispatcher(registry, db, dispatcher.config, services=dispatcher.services)
    console, out, prompts = make_console(searching, tmp_path, ["4", "2"])
    picked = console.pick(Select("test:pick", tuple(Option(f"colour {n}", str(n)) for n in range(50)),
                                 options_source="test:colours"))
    assert picked == ("14",)  # "4" matches 4, 14, 24...; the second is 14
    assert prompts[0].startswith("50 choices")
    shown = out.getvalue()
    assert "colour 14" in shown and "colour 3\n" not in shown


def test_publish_and_browse_through_the_console(dispatcher: Dispatcher, db: Database, tmp_path: Path) -> None:
    """An admin connects a local folder, ticks modules by number, publishes, then browses and pins."""
    from bot.demo import EXAMPLES

    script = [
        f"admin connect local {EXAMPLES}", "admin publish",
        "1", "1,2",          # choose the tick box, tick the first two modules on the page
        "3",                 # on the refreshed page, press Publish (2 selected)
        "modules platform", "3", "",  # pin the first card (its third button: Deploy, Details, Pin), then leave
        "module data-bucket", "",
        "quit",
    ]
    console, out, _ = make_console(dispatcher, tmp_path, script, identity="slack:T1:UADMIN")
    console.loop()
    text = out.getvalue()
    assert "The platform repository is the folder" in text and "*5 module folders*" in text
    assert "*Published:* `budget-alerts`, `data-bucket`" in text
    assert "[3] Publish (2 selected)" in text
    assert "── 📌 budget-alerts" in text and "Commit" in text and "Pinned to commit" not in text


def test_credit_history_pages_by_number_and_writes_its_csv(dispatcher: Dispatcher, db: Database,
                                                           tmp_path: Path) -> None:
    """The history's Next button is a numbered choice; the CSV lands in the files folder, the ledger as it is."""
    from core.credits import history
    from core.dates import Period
    from tests.support.credit_story import write_story

    dispatcher.run_text(console_caller("slack:T1:UADMIN"), "whoami")
    with db.unit_of_work() as s:
        admin = s.scalars(select(User)).one()
        write_story(s, admin, admin)
        expected = history.to_csv(s, history.history_filter(s, admin, admin, Period()))
        name = history.csv_name(history.history_filter(s, admin, admin, Period()), admin.display_name)
    console, out, _ = make_console(dispatcher, tmp_path, ["credits history", "1", "", "quit"])
    console.loop()
    text = out.getvalue()
    assert "28 transactions, page 1 of 3" in text and "[1] Next ▶" in text and "page 2 of 3" in text
    written = tmp_path / "files" / name
    assert written.read_bytes() == expected and str(written) in text
    assert expected.decode().splitlines()[0].startswith("id,date,type,amount,awarded_delta")
