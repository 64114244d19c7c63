"""The Slack emulator answers like Slack: Block Kit validated with slack_sdk's models, messages kept.

Driven by the real ``slack_sdk`` clients, as the bot drives it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from tests.emulators.slack import SlackEmulator

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}
MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Form"}, "blocks": [SECTION]}


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as running:
        yield running


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.url)


def refused(client: WebClient, method: str, **kwargs: object) -> dict[str, object]:
    with pytest.raises(SlackApiError) as raised:
        client.api_call(method, json=kwargs)
    data: dict[str, object] = raised.value.response.data
    return data


def test_messages_are_kept_updated_and_deleted(slack: SlackEmulator, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C1", text="first", blocks=[SECTION])
    ts = str(posted["ts"])
    client.chat_update(channel="C1", ts=ts, text="second", blocks=[{**SECTION, "text": {"type": "mrkdwn",
                                                                                          "text": "edited"}}])
    stored = slack.message("C1", ts)
    assert stored is not None and stored["text"] == "second" and stored["blocks"][0]["text"]["text"] == "edited"
    assert [m["ts"] for m in slack.messages("C1")] == [ts] and slack.messages("C2") == []
    assert refused(client, "chat.update", channel="C1", ts="1.000001", text="x")["error"] == "message_not_found"
    assert refused(client, "chat.update", channel="C2", ts=ts, text="x")["error"] == "message_not_found"
    client.chat_delete(channel="C1", ts=ts)
    assert refused(client, "chat.delete", channel="C1", ts=ts)["error"] == "message_not_found"
    assert slack.messages() == [] and slack.failures == []


@pytest.mark.parametrize("blocks, error", [
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "cannot exceed 3000"),
    ([{"type": "sektion", "text": {"type": "mrkdwn", "text": "x"}}], "unknown block type"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}], "colour: not a Block Kit"),
    ([SECTION] * 51, "at most 50"),
    ([{"type": "actions", "elements": [
        {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "x" * 76}}]}], "75"),
    ([{"type": "actions", "block_id": "b", "elements": []}, {"type": "divider", "block_id": "b"}], "duplicate"),
])
def test_invalid_blocks_are_refused_and_recorded(
    slack: SlackEmulator, client: WebClient, blocks: list[dict[str, object]], error: str
) -> None:
    answer = refused(client, "chat.postMessage", channel="C1", text="t", blocks=blocks)
    assert answer["error"] == "invalid_blocks" and error in str(answer["errors"])
    assert slack.messages() == []
    with pytest.raises(AssertionError, match="Slack refused 1 payload"):
        slack.check()
    [failure] = slack.take_failures()
    assert failure.method == "chat.postMessage" and error in str(failure)
    slack.check()


def test_an_invalid_update_leaves_the_message_as_it_was(slack: SlackEmulator, client: WebClient) -> None:
    ts = str(client.chat_postMessage(channel="C1", text="first", blocks=[SECTION])["ts"])
    answer = refused(client, "chat.update", channel="C1", ts=ts, blocks=[{"type": "header", "text": {
        "type": "plain_text", "text": "h" * 151}}])
    assert answer["error"] == "invalid_blocks"
    assert slack.message("C1", ts) is not None and slack.message("C1", ts)["text"] == "first"  # type: ignore[index]
    assert len(slack.take_failures()) == 1


def test_views_are_validated_and_updated_by_id_and_hash(slack: SlackEmulator, client: WebClient) -> None:
    view = client.views_open(trigger_id="trig.1", view=MODAL)["view"]
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view={**MODAL, "callback_id": "x"})["view"]
    assert updated["id"] == view["id"] and updated["hash"] != view["hash"]
    assert slack.view(view["id"]) == updated
    assert refused(client, "views.update", view_id=view["id"], hash=view["hash"], view=MODAL)["error"] == \
        "hash_conflict"
    assert refused(client, "views.update", view_id="VNOPE", view=MODAL)["error"] == "not_found"
    client.views_push(trigger_id="trig.2", view=MODAL)
    assert len(slack.views()) == 2 and slack.failures == []

    too_long = {**MODAL, "title": {"type": "plain_text", "text": "t" * 25}}
    assert refused(client, "views.open", trigger_id="trig.3", view=too_long)["error"] == "invalid_arguments"
    assert refused(client, "views.push", trigger_id="trig.4", view={**MODAL, "blocks": []})["error"] == \
        "invalid_arguments"
    assert [f.method for f in slack.take_failures()] == ["views.open", "views.push"]


def test_home_tabs_are_published_per_user_and_validated(slack: SlackEmulator, client: WebClient) -> None:
    home = {"type": "home", "blocks": [SECTION]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    again = client.views_publish(user_id="U1", view={**home, "blocks": [SECTION, {"type": "divider"}]})["view"]
    assert again["id"] == first["id"] and slack.home("U1") == again and slack.home("U2") is None
    assert refused(client, "views.publish", user_id="U1", view=MODAL)["error"] == "invalid_arguments"  # not a Home
    assert refused(client, "views.open", trigger_id="trig.1", view=home)["error"] == "invalid_arguments"
    with_submit = {**home, "submit": {"type": "plain_text", "text": "Go"}}  # a Home has no buttons of its own
    assert refused(client, "views.publish", user_id="U1", view=with_submit)["error"] == "invalid_arguments"
    assert refused(client, "views.publish", user_id="U1", view={"type": "home", "blocks": [SECTION] * 101}
                   )["error"] == "invalid_arguments"
    assert refused(client, "views.publish", view=home)["error"] == "invalid_arguments"  # whose Home?
    assert [f.method for f in slack.take_failures()] == ["views.publish", "views.open", "views.publish",
                                                         "views.publish"]
    assert slack.home("U1") == again  # what was refused changed nothing


def test_response_urls_replace_and_delete_the_message_they_belong_to(
    slack: SlackEmulator, client: WebClient
) -> None:
    ts = str(client.chat_postMessage(channel="C1", text="card", blocks=[SECTION])["ts"])
    hook = WebhookClient(slack.bind_hook("clicked", "C1", ts))
    assert hook.send(text="done", blocks=[SECTION], replace_original=True).status_code == 200
    assert slack.message("C1", ts)["text"] == "done"  # type: ignore[index]
    assert hook.send(text="", delete_original=True).status_code == 200
    assert slack.message("C1", ts) is None

    ephemeral = WebhookClient(slack.webhook_url("cmd"))
    ephemeral.send(text="working")
    ephemeral.send(text="finished", replace_original=True)
    assert [m["text"] for m in slack.hook("/webhook/cmd").posted] == ["finished"]
    bad = ephemeral.send(text="x", blocks=[{"type": "section"}], replace_original=True)
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    assert slack.hook("cmd").current is not None and slack.hook("cmd").current["text"] == "finished"  # type: ignore[index]
    assert [f.method for f in slack.take_failures()] == ["/webhook/cmd"]


def test_attachments_are_validated(slack: SlackEmulator, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="t", attachments=[{"color": "#36a64f", "blocks": [SECTION]}])
    answer = refused(client, "chat.postMessage", channel="C1", text="t",
                     attachments=[{"color": "#36a64f", "blocks": [{"type": "section"}]}])
    assert answer["error"] == "invalid_attachments" and len(slack.take_failures()) == 1


def test_a_threads_status_is_set_cleared_and_refused_as_slack_does(slack: SlackEmulator, client: WebClient) -> None:
    parent = str(client.chat_postMessage(channel="C1", text="opening")["ts"])
    reply = str(client.chat_postMessage(channel="C1", text="in the thread", thread_ts=parent)["ts"])
    client.assistant_threads_setStatus(channel_id="C1", thread_ts=parent, status="is working")
    assert slack.thread_status("C1", parent) == "is working"
    client.chat_postMessage(channel="C1", text="an answer", thread_ts=parent)  # the bot's reply clears it
    assert slack.thread_status("C1", parent) == ""
    client.assistant_threads_setStatus(channel_id="C1", thread_ts=parent, status="is working")
    client.assistant_threads_setStatus(channel_id="C1", thread_ts=parent, status="")
    assert slack.thread_statuses("C1", parent) == ["is working", "", "is working", ""]

    assert refused(client, "assistant.threads.setStatus", channel_id="C1", thread_ts=reply,
                   status="x")["error"] == "invalid_thread_ts", "a reply is no thread"
    assert refused(client, "assistant.threads.setStatus", channel_id="C9", thread_ts=parent,
                   status="x")["error"] == "channel_not_found"
    assert refused(client, "assistant.threads.setStatus", channel_id="C1",
                   thread_ts=parent)["error"] == "invalid_arguments"
    app_token = WebClient(token="xapp-1-test", base_url=slack.url)
    assert refused(app_token, "assistant.threads.setStatus", channel_id="C1", thread_ts=parent,
                   status="x")["error"] == "not_allowed_token_type"
    slack.status_refusal = "missing_scope"
    missing = refused(client, "assistant.threads.setStatus", channel_id="C1", thread_ts=parent, status="x")
    assert missing["error"] == "missing_scope" and "assistant:write" in str(missing["needed"])
    assert slack.thread_status("C1", parent) == ""
