"""The Home tab renderer: one ``home`` view within Slack's 100 blocks, valid for slack_sdk's View model."""

from __future__ import annotations

from slack_sdk.models.views import View

from bot.slack.home import HOME_BLOCKS, from_home, redraws_home, render_home
from commands.ui.model import Attachment, Button, Card, Field, Reply
from tests.emulators.slack_validate import view_errors


def card(n: int) -> Card:
    return Card(f"module-{n}", text="A module.", fields=(Field("Cost", "5"),),
                actions=(Button("Deploy", "deploy:pick", f"module-{n}"),
                         Button("Unpin", "modules:pin", f"{n}:pinned:1:")))


def test_a_home_that_fits_is_rendered_whole() -> None:
    view = render_home(Reply(text="*Your RAD home*", cards=(card(1), card(2))))
    assert view["type"] == "home" and view_errors(view) == []
    View(**view).validate_json()
    assert sum(b["type"] == "actions" for b in view["blocks"]) == 2


def test_a_home_too_long_for_the_tab_is_cut_and_says_so() -> None:
    view = render_home(Reply(text="lots", cards=tuple(card(n) for n in range(60))), "/ops")
    assert len(view["blocks"]) == HOME_BLOCKS and view_errors(view) == []
    last = view["blocks"][-1]
    assert last["type"] == "context" and "`/ops home`" in last["elements"][0]["text"]


def test_files_cannot_be_shown_on_a_home_and_it_says_where_they_are() -> None:
    view = render_home(Reply(text="log", attachments=(Attachment("x.log", b"x", "text/plain"),)))
    assert view_errors(view) == [] and "`/rad home`" in view["blocks"][-1]["elements"][0]["text"]


def test_clicks_on_the_home_tab_are_told_apart_from_messages_and_modals() -> None:
    assert from_home({"container": {"type": "view", "view_id": "V1"}, "view": {"type": "home"}})
    assert not from_home({"container": {"type": "view", "view_id": "V1"}, "view": {"type": "modal"}})
    assert not from_home({"container": {"type": "message"}, "view": "home"})
    assert redraws_home(Reply(cards=(card(1),), replace_original=True))
    assert not redraws_home(Reply(text="Cancelled.", replace_original=True))
    assert not redraws_home(Reply(cards=(card(1),)))
