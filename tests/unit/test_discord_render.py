"""The Discord renderer against Discord's limits and its API description: split, never truncated silently."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import discord
import pytest

from bot.discord import ids
from bot.discord.drafts import Draft
from bot.discord.forms import build_modal, steps
from bot.discord.render import OutMessage, render_reply
from bot.discord.search import search_modal, typed_text
from bot.discord.text import split_text, to_discord
from bot.discord.tree import choices
from commands.ui.model import Attachment, Button, Card, Confirm, Field, Form, Input, Option, Reply, SearchBox, Select
from tests.support.discord_spec import check_message_limits, embed_chars, validate_schema


def valid(messages: list[OutMessage]) -> list[dict[str, Any]]:
    """Each message's body, checked against MessageCreateRequest and the limits the spec cannot express."""
    bodies = [m.payload() for m in messages]
    for body in bodies:
        validate_schema(body, "MessageCreateRequest")
        check_message_limits(body)
    return bodies


def custom_ids(body: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in body.get("components", []) for c in row["components"]]


def test_markdown_and_emoji() -> None:
    assert to_discord("*bold* _it_ `*code*` :warning: :nope:") == "**bold** _it_ `*code*` ⚠️ :nope:"
    assert to_discord("2 * 3 * 4") == "2 * 3 * 4"


def test_split_text_keeps_every_character_but_separators() -> None:
    text = "\n".join(f"line {n} " + "x" * 70 for n in range(100))
    chunks = split_text(text, 2000)
    assert all(len(c) <= 2000 for c in chunks)
    assert "\n".join(chunks) == text


def test_long_text_is_split_into_follow_ups() -> None:
    text = "\n".join(f"line {n}: " + "word " * 15 for n in range(60))
    bodies = valid(render_reply(Reply(text=text)))
    assert len(bodies) == 3
    assert "\n".join(b["content"] for b in bodies) == text


def test_very_long_text_is_attached_as_a_file() -> None:
    text = "row " * 10_000
    messages = render_reply(Reply(text=text))
    [body] = valid(messages)
    assert "message.txt" in body["content"]
    [attached] = messages[0].files
    assert attached.filename == "message.txt" and attached.content.decode() == text


def test_thirty_cards_make_several_messages_of_ten_embeds() -> None:
    cards = tuple(Card(f"Module {n}", "A description " * 20, fields=(Field("Cost", f"{n} credits"),))
                  for n in range(30))
    bodies = valid(render_reply(Reply(text="Catalog", cards=cards)))
    titles = [e["title"] for b in bodies for e in b["embeds"]]
    assert titles == [f"Module {n}" for n in range(30)]
    assert [len(b["embeds"]) for b in bodies] == [10, 10, 10]
    assert bodies[0]["content"] == "Catalog"


def test_a_huge_card_is_continued_in_more_embeds() -> None:
    card = Card("T" * 300, "D" * 5000, fields=tuple(Field(f"f{n}", "v" * 1500) for n in range(30)))
    bodies = valid(render_reply(Reply(cards=(card,))))
    embeds = [e for b in bodies for e in b["embeds"]]
    assert embeds[0]["title"] == "T" * 255 + "…"
    assert "".join(e.get("description", "") for e in embeds) == "**" + "T" * 300 + "**\n" + "D" * 5000
    values = [f["value"] for e in embeds for f in e.get("fields", [])]
    assert "".join(values) == "v" * 1500 * 30
    assert all(embed_chars(e) <= 6000 and len(e.get("fields", [])) <= 25 for e in embeds)


def test_forty_options_become_two_selects() -> None:
    options = tuple(Option(f"Option {n}", f"o{n}", "d" * 150) for n in range(40))
    messages = render_reply(Reply(text="Pick", actions=(Select("pick", options, multi=True, selected=("o30",)),)))
    [body] = valid(messages)
    first, second = (row["components"][0] for row in body["components"])
    assert (len(first["options"]), len(second["options"])) == (25, 15)
    assert first["custom_id"] == "rads|pick|" and second["custom_id"] == "rads|pick||1"
    assert [o["value"] for o in second["options"] if o.get("default")] == ["o30"]
    assert first["options"][0]["description"].endswith("…")


def test_a_searchable_select_shows_25_and_says_how_to_find_the_rest() -> None:
    options = tuple(Option(f"owner/repo-{n:03}", f"owner/repo-{n:03}") for n in range(150))
    picker = Select("connect:repo", options, placeholder="Choose the repository", value="partner",
                    options_source="connect:repos", selected=("owner/repo-140",))
    [body] = valid(render_reply(Reply(text="Pick one, or type `/rad connect repo <owner/name>`.", actions=(picker,))))
    [row] = body["components"]
    [select] = row["components"]
    assert len(select["options"]) == 25 and select["placeholder"] == "Choose the repository (first 25 of 150)"
    assert select["options"][0] == {"label": "owner/repo-140", "value": "owner/repo-140", "default": True}
    assert [o["value"] for o in select["options"][1:3]] == ["owner/repo-000", "owner/repo-001"]
    lead, note = body["content"].split("\n")
    assert lead.startswith("Pick one") and note.startswith("_The list below shows the first 25 of 150; to pick another")
    [small] = valid(render_reply(Reply(text="Pick", actions=(replace(picker, options=options[:25]),))))
    assert small["content"] == "Pick" and len(small["components"][0]["components"][0]["options"]) == 25


def test_autocomplete_choices_stay_within_discord_limits() -> None:
    options = [Option("x" * 150, "long-label"), Option("too long", "v" * 101), Option("", "")]
    options += [Option(f"Repo {n}", f"owner/repo-{n}") for n in range(40)]
    found = [c.to_dict() for c in choices(options)]
    assert len(found) == 25 and found[0] == {"name": "x" * 99 + "…", "value": "long-label"}
    assert all(c["value"] != "v" * 101 and c["value"] for c in found)
    validate_schema({"type": 8, "data": {"choices": found}}, "ApplicationCommandAutocompleteCallbackRequest")
    with pytest.raises(AssertionError, match="choices"):
        validate_schema({"type": 8, "data": {"choices": found + found[:1]}},
                        "ApplicationCommandAutocompleteCallbackRequest")


def test_twelve_buttons_fill_three_rows() -> None:
    buttons = tuple(Button(f"Button {n}", "press", str(n), style="primary") for n in range(12))
    [body] = valid(render_reply(Reply(text="Many", actions=buttons)))
    assert [len(r["components"]) for r in body["components"]] == [5, 5, 2]
    assert custom_ids(body)[11] == "rad|press|11"


def test_forty_buttons_continue_in_a_second_message() -> None:
    buttons = tuple(Button("Same", "press", "1") for _ in range(40))
    bodies = valid(render_reply(Reply(text="Many", actions=buttons)))
    assert [len(b.get("components", [])) for b in bodies] == [5, 3]
    every = [i for b in bodies for i in custom_ids(b)]
    assert len(set(every)) == 40 and every[1] == "rad|press|1|1"


def test_card_buttons_stay_with_their_card() -> None:
    cards = tuple(Card(f"Module {n}", actions=(Button("Deploy", "deploy:start", f"m{n}"),)) for n in range(3))
    bodies = valid(render_reply(Reply(cards=cards)))
    assert [(b["embeds"][0]["title"], custom_ids(b)) for b in bodies] == [
        (f"Module {n}", [f"rad|deploy:start|m{n}"]) for n in range(3)]


def test_a_confirm_button_asks_first_and_styles_map() -> None:
    danger = Button("Delete", "module:delete", "7", style="danger", confirm=Confirm("Sure?", "It goes away."))
    [body] = valid(render_reply(Reply(text="x", actions=(danger, Button("Keep", "noop")))))
    first, second = body["components"][0]["components"]
    assert (first["custom_id"], first["style"]) == ("radc|module:delete|7", discord.ButtonStyle.danger.value)
    assert (second["custom_id"], second["style"]) == ("rad|noop|", discord.ButtonStyle.secondary.value)


def test_a_search_box_is_a_button_whose_id_carries_its_value_and_the_text_to_prefill() -> None:
    box = SearchBox("modules:search", "Search modules", value="conn7", initial="net")
    odd = SearchBox("q", "L" * 100, initial="a|b " * 40)
    [body] = valid(render_reply(Reply(text="Browse", actions=(Button("Deploy", "deploy", "m1"), box, box, odd))))
    buttons = body["components"][0]["components"]
    assert [b["custom_id"] for b in buttons[1:3]] == ["radq|modules:search|conn7||net",
                                                       "radq|modules:search|conn7|1|net"]
    assert buttons[1]["emoji"]["name"] == "🔍" and buttons[1]["label"] == "Search modules"
    long = buttons[3]
    assert len(long["custom_id"]) == ids.MAX_CUSTOM_ID and len(long["label"]) == 80
    found = re.fullmatch(ids.SEARCH_TEMPLATE, long["custom_id"])
    assert found is not None and found["a"] == "q" and ("a|b " * 40).startswith(found["text"])
    assert ids.decode(long["custom_id"]) == ids.CustomId("radq", "q", "")
    [plain] = valid(render_reply(Reply(actions=(SearchBox("q", "🔍 Search"),))))
    assert plain["components"][0]["components"][0]["label"] == "Search", "the magnifier shows once, as the emoji"
    with pytest.raises(ValueError, match="longer than 100"):
        render_reply(Reply(actions=(SearchBox("a" * 60, value="b" * 40),)))


def test_the_search_modal_is_valid_prefilled_and_read_back() -> None:
    modal = search_modal("modules:search", "conn7", "Search all the modules of the platform catalog", "net")
    data = modal.to_dict()
    validate_schema({"type": 9, "data": data}, "ModalInteractionCallbackRequest")
    assert data["custom_id"] == "radqs|modules:search|conn7" and len(data["title"]) <= 45
    [label] = data["components"]
    assert {k: v for k, v in label["component"].items() if v is not None} == {
        "type": 4, "custom_id": "query", "style": 1, "required": False, "max_length": 4000, "value": "net"}
    assert "value" not in search_modal("q", "", "Search").to_dict()["components"][0]["component"]
    submitted = [{"type": 18, "id": 1, "component": {"type": 4, "custom_id": "query", "value": " db  "}}]
    assert typed_text(submitted) == "db" and typed_text([]) == ""


def test_attachments_go_with_the_card_that_shows_them() -> None:
    chart = Attachment("chart.png", b"\x89PNG", "image/png")
    csv = Attachment("data.csv", b"a,b", "text/csv")
    messages = render_reply(Reply(text="Report", cards=(Card("Revenue", image="chart.png"),), attachments=(chart, csv)))
    [body] = valid(messages)
    assert body["embeds"][0]["image"]["url"] == "attachment://chart.png"
    assert sorted(a.filename for a in messages[0].files) == ["chart.png", "data.csv"]


def test_ids_fail_loudly_when_too_long_or_ambiguous() -> None:
    with pytest.raises(ValueError, match="longer than 100"):
        render_reply(Reply(actions=(Button("x", "a" * 50, "b" * 50),)))
    with pytest.raises(ValueError, match="may not contain"):
        ids.encode(ids.RUN, "a", "b|c")
    assert ids.decode("rad|admin:users:page|2|1") == ids.CustomId("rad", "admin:users:page", "2")
    assert ids.decode("legacy:thing") is None


def test_an_empty_reply_still_says_something() -> None:
    [body] = valid(render_reply(Reply()))
    assert body["content"]


def test_a_seven_input_form_takes_two_valid_modals() -> None:
    inputs = tuple(Input(f"field{n}", f"Field {n} " + "with a long label" * 3, help="h" * 150) for n in range(6))
    form = Form("A form with a rather long title that goes on", "f:save", (*inputs, Input("pw", "Secret", "secret")),
                intro="Please fill in *everything*.")
    chunks = steps(form)
    assert [len(c) for c in chunks] == [4, 3] and chunks[-1][-1].name == "pw"
    draft = Draft("0123abcd", "1", form, {"pw": "hunter2", "field0": "kept"})
    for step in range(len(chunks)):
        modal = build_modal(draft, step)
        data = modal.to_dict()
        validate_schema({"type": 9, "data": data}, "ModalInteractionCallbackRequest")
        assert len(data["title"]) <= 45 and data["title"].endswith(f"({step + 1}/2)")
    last = build_modal(draft, 1).to_dict()["components"]
    assert "value" not in last[-1]["component"], "secrets are never prefilled"
    first = build_modal(draft, 0).to_dict()["components"]
    assert first[0] == {"type": 10, "content": "Please fill in **everything**."}
    assert first[1]["component"]["value"] == "kept"


def test_a_choice_with_many_options_is_typed() -> None:
    many = tuple(Option(f"Region {n}", f"r{n}") for n in range(30))
    form = Form("Regions", "r:save", (Input("region", "Region", "choice", options=many),))
    modal = build_modal(Draft("00ff", "1", form), 0).to_dict()
    validate_schema({"type": 9, "data": modal}, "ModalInteractionCallbackRequest")
    component = modal["components"][0]["component"]
    assert component["type"] == 4 and component["placeholder"].startswith("One of: r0, r1")
