"""Small shared pieces: pages of a list, typed days and periods, optional mentions, and Discord's `show`."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from discord import app_commands

from bot.discord.tree import BARE_NAME, build_group
from commands.framework.parsing import parse_args
from commands.framework.registry import Param, Registry
from commands.ui.model import Reply
from commands.ui.paging import NEXT, PREVIOUS, page_number, page_of
from core.accounts.identity import Caller, IdentityKey
from core.dates import Period, parse_day, parse_period
from core.errors import InvalidInput

CALLER = Caller(IdentityKey("slack", "T1", "U1"), "Ada")


def test_pages_are_clamped_or_refused_and_have_the_buttons_they_need() -> None:
    assert [page_of(0, 1, 10).pages, page_of(10, 1, 10).pages, page_of(11, 1, 10).pages] == [1, 1, 2]
    last = page_of(25, 9, 10)
    assert (last.number, last.offset, last.label) == (3, 20, "page 3 of 3")
    assert [b.label for b in last.buttons("x", str)] == [PREVIOUS]
    middle = page_of(25, 2, 10)
    assert [(b.label, b.value) for b in middle.buttons("x", lambda n: f"v{n}")] == [(PREVIOUS, "v1"), (NEXT, "v3")]
    assert page_of(25, 0, 10).number == 1 and page_of(0, 1, 10).buttons("x", str) == ()
    with pytest.raises(InvalidInput, match="There is no page 4"):
        page_of(25, 4, 10, strict=True)
    assert [page_number(t) for t in ("3", "", "-1", "x", "9" * 40)] == [3, 1, 1, 1, 1]


def test_days_and_periods() -> None:
    assert parse_day("2026-02-28") == date(2026, 2, 28) and parse_day(" - ") is None and parse_day(None) is None
    for bad in ("2026-2-28", "2026-02-29", "28/02/2026", "2026-02-28T00:00", "today", "２０２６-01-01"):
        with pytest.raises(InvalidInput, match="is not a date") as refused:
            parse_day(bad)
        assert "YYYY-MM-DD" in refused.value.hint
    period = parse_period("2026-01-31", "2026-01-31")
    assert (period.start, period.end) == (datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    assert [Period().describe(), parse_period("2026-01-01", None).describe(),
            parse_period("-", "2026-01-02").describe()] == ["all time", "since 2026-01-01", "until 2026-01-02"]
    with pytest.raises(InvalidInput, match="after it ends"):
        parse_period("2026-02-01", "2026-01-31")


def test_an_optional_user_is_skipped_when_the_word_is_no_mention() -> None:
    registry = Registry()

    @registry.command("history", "h", params=(Param("user", "user", required=False), Param("start", required=False),
                                              Param("end", required=False)))
    def history(ctx: object, user: IdentityKey | None, start: str | None, end: str | None) -> Reply:
        """A command shaped like ``credits history``."""
        return Reply()

    spec = registry.commands["history"]
    assert parse_args(spec, ["2026-01-01"], CALLER, "/rad") == {"user": None, "start": "2026-01-01", "end": None}
    found = parse_args(spec, ["<@U2>", "2026-01-01", "2026-01-31"], CALLER, "/rad")
    assert found["user"] == IdentityKey("slack", "T1", "U2") and found["end"] == "2026-01-31"
    with pytest.raises(InvalidInput, match="is not a mention"):
        parse_args(spec, ["@nobody-here", "2026-01-01"], CALLER, "/rad")  # written as a mention, but not one


def test_a_command_that_also_heads_a_group_is_the_groups_show_on_discord() -> None:
    registry = Registry()
    for name in ("credits", "credits history", "help"):
        registry.command(name, f"the {name} command")(lambda ctx: Reply())

    async def run(*args: object) -> None:
        """Not called: the tree is only built."""

    root = build_group(registry, "rad", run)
    credits = next(c for c in root.commands if c.name == "credits")
    assert isinstance(credits, app_commands.Group)
    assert sorted(c.name for c in credits.commands) == ["history", BARE_NAME]
    assert "help" in [c.name for c in root.commands]
