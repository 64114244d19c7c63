"""Block Kit rendering against Slack's limits, checked with slack_sdk's own models plus message-level rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.slack import limits
from bot.slack.elements import decode_action_id, encode_action_id
from bot.slack.mrkdwn import split_text, to_mrkdwn
from bot.slack.payloads import action_event, suggestion_request
from bot.slack.render import errors_response, form_metadata, form_values, render_form, render_reply
from bot.slack.suggestions import decode_block_id, options_answer
from commands.ui.model import Button, Card, Confirm, Field, Form, FormErrors, Input, Option, Reply, SearchBox, Select


def check_message(payload: dict[str, Any]) -> None:
    """What Slack would reject, or what slack_sdk would silently drop."""
    assert payload["text"].strip() and len(payload["text"]) <= limits.FALLBACK_TEXT + 1
    blocks = payload["blocks"]
    assert 1 <= len(blocks) <= limits.MESSAGE_BLOCKS
    parsed = Block.parse_all(blocks)
    assert None not in parsed
    assert [b.to_dict() for b in parsed] == blocks  # to_dict() validates every limit slack_sdk knows
    for block in blocks:
        if block["type"] == "actions":
            ids = [e["action_id"] for e in block["elements"]]
            assert len(ids) == len(set(ids)) and len(ids) <= limits.ACTIONS_ELEMENTS
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= limits.SECTION_TEXT
            assert len(block.get("fields", [])) <= limits.SECTION_FIELDS
            assert all(len(f["text"]) <= limits.FIELD_TEXT for f in block.get("fields", []))


def rendered(reply: Reply) -> list[dict[str, Any]]:
    messages = list(render_reply(reply).messages)
    for message in messages:
        check_message(message)
    return messages


def section_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section" and "text" in b]


def test_long_text_is_split_into_sections_at_line_breaks() -> None:
    text = "\n".join(f"line {n}: " + "lorem ipsum " * 8 for n in range(120))
    messages = rendered(Reply(text=text))
    sections = section_texts(messages)
    assert len(messages) == 1 and len(sections) >= 4
    assert all(s.startswith("line ") for s in sections)
    assert " ".join(sections).split() == text.split()


def test_a_word_longer_than_a_section_is_cut_hard_but_kept_whole() -> None:
    text = "x" * 7000 + " & <tail>"
    sections = section_texts(rendered(Reply(text=text)))
    assert "".join(sections).replace(" ", "") == to_mrkdwn(text).replace(" ", "")


def test_code_block_cut_in_two_is_closed_and_reopened() -> None:
    text = "```\n" + "\n".join(f"row {n} " + "=" * 40 for n in range(150)) + "\n```"
    chunks = split_text(to_mrkdwn(text), limits.SECTION_TEXT)
    assert len(chunks) >= 2 and all(c.count("```") == 2 for c in chunks)
    assert all(len(c) <= limits.SECTION_TEXT for c in chunks)


def test_split_never_cuts_an_entity_or_a_mention() -> None:
    for head, tail in (("a" * 2993, "&amp;<@U123>"), ("a" * 2990, "<@U123|bob> and more")):
        chunks = split_text(head + tail, limits.SECTION_TEXT)
        assert chunks == [head, tail]


def test_text_longer_than_slack_allows_becomes_a_file() -> None:
    text = "word " * 9000
    result = render_reply(Reply(text=text))
    (attached,) = result.files
    assert attached.filename == "reply.txt" and attached.content.decode() == text
    assert "attached as `reply.txt`" in result.messages[0]["blocks"][0]["text"]["text"]
    for message in result.messages:
        check_message(message)


def test_sixty_cards_are_split_into_messages_without_splitting_a_card() -> None:
    cards = tuple(
        Card(title=f"Module {n}", text=f"The *module* number {n}.",
             fields=tuple(Field(f"field {f}", f"value {f}") for f in range(12)),
             actions=(Button("Deploy", "deploy:start", str(n), "primary"), Button("Pin", "pin", str(n)),
                      Button("Delete", "module:delete", str(n), "danger", Confirm("Delete?", "Really delete it?"))))
        for n in range(60)
    )
    messages = rendered(Reply(text="Your modules", cards=cards))
    assert len(messages) > 1
    headers = [b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "header"]
    assert headers == [f"Module {n}" for n in range(60)]
    for message in messages:
        kinds = [b["type"] for b in message["blocks"] if b["type"] != "divider"]
        # every card in a message is whole: header, text, 2 field sections, actions
        assert kinds[kinds.index("header"):].count("header") * 5 == len(kinds[kinds.index("header"):])


def test_select_with_150_options_shows_100_and_says_so() -> None:
    options = tuple(Option(f"option {n}", f"v{n}") for n in range(150))
    messages = rendered(Reply(actions=(Select("pick:module", options, selected=("v120",), value="draft7"),)))
    actions, note = messages[0]["blocks"]
    (element,) = actions["elements"]
    assert len(element["options"]) == limits.SELECT_OPTIONS
    assert element["initial_option"]["value"] == "v120"
    assert note["type"] == "context" and "…and 50 more" in note["elements"][0]["text"]
    assert decode_action_id(element["action_id"]) == ("pick:module", "draft7")


def test_long_select_with_a_provider_becomes_a_searchable_external_select() -> None:
    options = tuple(Option(f"option {n}", f"v{n}") for n in range(150))
    picker = Select("pick:module", options, selected=("v120",), value="draft7", options_source="test:modules")
    (message,) = rendered(Reply(text="Pick one", actions=(Button("Cancel", "cancel"), picker)))
    _, actions = message["blocks"]  # no "…and 50 more" note: every option can be searched
    button, element = actions["elements"]
    assert button["type"] == "button" and "block_id" in actions
    assert element["type"] == "external_select" and element["min_query_length"] == 0 and "options" not in element
    assert element["initial_option"] == {"text": {"type": "plain_text", "text": "option 120", "emoji": True},
                                         "value": "v120"}
    assert decode_action_id(element["action_id"]) == ("pick:module", "draft7")
    assert decode_block_id(actions["block_id"]) == "test:modules"
    multi = Select("pick:tags", options, multi=True, selected=("v1", "v2"), options_source="test:tags")
    (message,) = rendered(Reply(actions=(multi,)))
    (element,) = message["blocks"][0]["elements"]
    assert element["type"] == "multi_external_select" and len(element["initial_options"]) == 2


def test_a_short_list_stays_static_even_with_a_provider() -> None:
    options = tuple(Option(f"o{n}", f"v{n}") for n in range(100))
    (message,) = rendered(Reply(actions=(Select("pick", options, options_source="test:modules"),)))
    (block,) = message["blocks"]
    assert block["elements"][0]["type"] == "static_select" and "block_id" not in block


def test_searchable_selects_get_unique_block_ids_one_provider_per_block() -> None:
    options = tuple(Option(f"o{n}", f"v{n}") for n in range(101))
    cards = tuple(Card(f"Card {n}", actions=(Select("pick", options, value=str(n), options_source="test:a"),))
                  for n in range(3))
    (message,) = rendered(Reply(cards=cards, actions=(
        Select("one", options, options_source="test:a"), Select("two", options, options_source="test:b"),
        Button("Done", "done"))))
    ids = [b["block_id"] for b in message["blocks"] if "block_id" in b]
    assert len(ids) == len(set(ids)) == 5
    assert [decode_block_id(i) for i in ids] == ["test:a"] * 4 + ["test:b"]
    last = message["blocks"][-1]
    assert [e["type"] for e in last["elements"]] == ["external_select", "button"]


def test_suggestions_answer_within_the_limits() -> None:
    found = [Option("L" * 100, "long-label"), Option("too long", "v" * 151)] + \
        [Option(f"o{n}", f"v{n}") for n in range(120)]
    answer = options_answer(found)
    assert len(answer) == limits.SELECT_OPTIONS
    assert len(answer[0]["text"]["text"]) == limits.OPTION_TEXT and answer[1]["value"] == "v0"
    assert all(len(o["value"]) <= limits.OPTION_VALUE for o in answer)


def test_suggestion_requests_and_external_choices_read_back() -> None:
    request = suggestion_request({"type": "block_suggestion", "block_id": "opts:connect:repos#2",
                                  "action_id": encode_action_id("connect:repo", 0, "partner"), "value": "repo-12"})
    assert request is not None
    assert (request.provider, request.value, request.query) == ("connect:repos", "partner", "repo-12")
    assert suggestion_request({"block_id": "b1", "action_id": "x#0", "value": "q"}) is None
    chosen = action_event({"type": "external_select", "action_id": "connect:repo#0:partner",
                           "selected_option": {"text": {"type": "plain_text", "text": "a"}, "value": "pat/a"}})
    assert (chosen.action_id, chosen.value, chosen.selected) == ("connect:repo", "partner", ("pat/a",))
    several = action_event({"type": "multi_external_select", "action_id": "tags#1",
                            "selected_options": [{"value": "a"}, {"value": "b"}]})
    assert several.selected == ("a", "b")


def test_a_search_box_is_an_input_block_between_the_actions_blocks_around_it() -> None:
    box = SearchBox("modules:search", "🔍 Search modules", "Type part of a name", value="conn7", initial="n" * 3100)
    card = Card("Modules", actions=(Button("Deploy", "deploy", "m1"), box, Button("Pin", "pin", "m1")))
    (message,) = rendered(Reply(text="Browse", cards=(card,), actions=(SearchBox("q"),)))
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["section", "divider", "header", "actions", "input", "actions", "input"]
    first, second = (b for b in message["blocks"] if b["type"] == "input")
    assert first["dispatch_action"] is True and first["label"]["text"] == "🔍 Search modules"
    element = first["element"]
    assert element["type"] == "plain_text_input" and element["placeholder"]["text"] == "Type part of a name"
    assert element["initial_value"] == "n" * limits.TEXT_INPUT_LENGTH
    assert element["dispatch_action_config"] == {"trigger_actions_on": ["on_enter_pressed"]}
    assert decode_action_id(element["action_id"]) == ("modules:search", "conn7")
    assert decode_action_id(second["element"]["action_id"]) == ("q", "") and "initial_value" not in second["element"]
    typed = action_event({"type": "plain_text_input", "block_id": "x", "action_id": element["action_id"],
                          "value": "net"})
    assert (typed.action_id, typed.value, typed.selected) == ("modules:search", "conn7", ("net",))
    empty = action_event({"type": "plain_text_input", "action_id": "q#0", "value": None})
    assert empty.selected == ("",)


def test_many_buttons_fill_several_actions_blocks_with_unique_ids() -> None:
    buttons = tuple(Button(f"Page {n}", "admin:users:page", str(n)) for n in range(30))
    (message,) = rendered(Reply(text="pages", actions=buttons))
    first, second = message["blocks"][1:]
    assert (len(first["elements"]), len(second["elements"])) == (25, 5)
    assert {decode_action_id(e["action_id"])[0] for e in first["elements"]} == {"admin:users:page"}


def test_labels_and_dialogs_are_cut_to_their_limits() -> None:
    card = Card(title="T" * 200, fields=(Field("big", "v" * 2500), Field("small", "s")),
                actions=(Button("B" * 100, "x", confirm=Confirm("C" * 150, "D" * 500, "E" * 40, "F" * 40)),
                         Select("s", (Option("O" * 100, "o", "P" * 100),))))
    (message,) = rendered(Reply(cards=(card,)))
    assert message["blocks"][0]["type"] == "section"  # a 200-character title cannot be a header
    button, select = message["blocks"][-1]["elements"]
    assert len(button["text"]["text"]) == limits.BUTTON_TEXT and button["text"]["text"].endswith("…")
    assert len(button["confirm"]["text"]["text"]) == limits.CONFIRM_TEXT
    assert len(select["options"][0]["text"]["text"]) == limits.OPTION_TEXT


def test_values_that_cannot_be_cut_are_refused() -> None:
    with pytest.raises(ValueError, match="value longer"):
        render_reply(Reply(actions=(Button("b", "x", "v" * 2001),)))
    with pytest.raises(ValueError, match="must not contain"):
        render_reply(Reply(actions=(Button("b", "x#1"),)))


def test_markdown_subset_becomes_mrkdwn() -> None:
    text = "**bold** _it_ `a<b>` ~~old~~ [docs](https://e.com/x) <@U123|bob> <@user> <#C1> a & b <!here>"
    assert to_mrkdwn(text) == ("*bold* _it_ `a&lt;b&gt;` ~old~ <https://e.com/x|docs> <@U123|bob> "
                               "&lt;@user&gt; <#C1> a &amp; b <!here>")


def test_empty_reply_renders_nothing() -> None:
    assert render_reply(Reply()).messages == ()


# -- forms --------------------------------------------------------------------------------------------

FORM = Form(
    title="Connect your GitHub repository please",
    action_id="connect:token",
    submit_label="Connect",
    state="draft-42",
    intro="Paste a *fine-grained* token. " * 200,
    inputs=(
        Input("repo", "Repository", placeholder="owner/name", default="acme/infra", max_length=200),
        Input("token", "Token", kind="secret", default="ghp_secret"),
        Input("notes", "Notes", kind="multiline", required=False, help="Anything else?"),
        Input("credits", "Credits", kind="number", default="12.5"),
        Input("public", "Public", kind="bool", required=False, default=True),
        Input("region", "Region", kind="choice", options=tuple(Option(f"r{n}", f"r{n}") for n in range(150)),
              default="r140"),
        Input("tags", "Tags", kind="multichoice", options=(Option("a", "a"), Option("b", "b")), default=("b",)),
    ),
)


def test_form_becomes_a_valid_modal() -> None:
    view = render_form(FORM, channel="C9", thread="1.2")
    View(**view).validate_json()
    assert view["callback_id"] == "connect:token" and len(view["title"]["text"]) <= limits.MODAL_TITLE
    blocks = {b.get("block_id"): b for b in view["blocks"] if b["type"] == "input"}
    assert blocks["repo"]["element"]["initial_value"] == "acme/infra"
    assert "initial_value" not in blocks["token"]["element"]
    assert blocks["notes"]["optional"] is True and blocks["notes"]["element"]["multiline"] is True
    assert blocks["credits"]["element"]["type"] == "number_input"
    assert blocks["public"]["element"]["initial_options"][0]["value"] == "true"
    region = blocks["region"]
    assert len(region["element"]["options"]) == 100 and region["element"]["initial_option"]["value"] == "r140"
    assert "…and 50 more" in region["hint"]["text"]
    assert blocks["tags"]["element"]["initial_options"] == [{"text": {"type": "plain_text", "text": "b",
                                                                      "emoji": True}, "value": "b"}]
    assert "ghp_secret" not in json.dumps(view)
    assert form_metadata(view) == form_metadata({"private_metadata": view["private_metadata"]})
    assert json.loads(view["private_metadata"]) == {"s": "draft-42", "c": "C9", "t": "1.2"}


def test_submitted_state_becomes_form_values() -> None:
    view = {"state": {"values": {
        "repo": {"repo": {"type": "plain_text_input", "value": "acme/x"}},
        "notes": {"notes": {"type": "plain_text_input", "value": None}},
        "credits": {"credits": {"type": "number_input", "value": "3"}},
        "public": {"public": {"type": "checkboxes", "selected_options": [{"value": "true"}]}},
        "region": {"region": {"type": "static_select", "selected_option": {"value": "r2"}}},
        "tags": {"tags": {"type": "multi_static_select", "selected_options": [{"value": "a"}, {"value": "b"}]}},
    }}}
    assert form_values(view) == {"repo": "acme/x", "notes": None, "credits": "3", "public": True,
                                 "region": "r2", "tags": ("a", "b")}


def test_form_errors_name_input_blocks() -> None:
    view = render_form(FORM)
    answer = errors_response(FormErrors({"repo": "Not found.", "elsewhere": "Bad."}), view)
    assert answer == {"response_action": "errors", "errors": {"repo": "Not found. elsewhere: Bad."}}


def test_select_choice_reads_back_as_an_action_event() -> None:
    action_id = encode_action_id("pick:module", 3, "draft7")
    event = action_event({"type": "static_select", "action_id": action_id, "selected_option": {"value": "net"}})
    assert (event.action_id, event.value, event.selected) == ("pick:module", "draft7", ("net",))
    button = action_event({"type": "button", "action_id": "admin:users:page#1", "value": "3"})
    assert (button.action_id, button.value) == ("admin:users:page", "3")
