"""The Slack app manifest agrees with the code: command, events, scopes, interactivity."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.config import Config

ROOT = Path(__file__).resolve().parents[2]
SLACK_CODE = sorted((ROOT / "bot" / "slack").glob("*.py"))

# The bot scopes each Web API method needs (None: no scope). A method the code starts calling must be
# added here, which makes whoever adds it check the manifest.
METHOD_SCOPES: dict[str, str | None] = {
    "auth_test": None,
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "chat_delete": "chat:write",
    "files_upload_v2": "files:write",
    "conversations_open": "im:write",
    "users_info": "users:read",
    "views_open": None,
    "views_update": None,
    "views_push": None,
    "views_publish": None,
}
# Bolt event type → the manifest's bot event subscriptions and the scopes they need.
EVENT_SUBSCRIPTIONS: dict[str, dict[str, str]] = {
    "message": {"message.channels": "channels:history", "message.groups": "groups:history",
                "message.im": "im:history"},
    "app_mention": {"app_mention": "app_mentions:read"},
    "app_home_opened": {"app_home_opened": ""},
    "app_uninstalled": {"app_uninstalled": ""},
    "tokens_revoked": {"tokens_revoked": ""},
}
WEB_API_CALL = re.compile(r"\.((?:chat|files|views|users|conversations|auth|reactions|apps)_\w+)\(")
EVENT_LISTENER = re.compile(r"app\.event\(\s*[\"']([\w.]+)[\"']")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "slack-manifest.yml").read_text())
    return loaded


def code() -> str:
    return "\n".join(path.read_text() for path in SLACK_CODE)


def test_the_slash_command_is_the_default_command(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == f"/{Config().command}"
    assert command["should_escape"] is True  # mentions arrive as <@U123|name>
    assert command["usage_hint"] and len(command["description"]) <= 100


def test_interactivity_and_socket_mode(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert "request_url" not in settings["interactivity"]  # Socket Mode: no URLs
    assert manifest["features"]["bot_user"]["display_name"]


def test_every_event_listened_to_is_subscribed(manifest: dict[str, Any]) -> None:
    listened = set(EVENT_LISTENER.findall(code()))
    assert listened, "the app listens to no event?"
    subscribed = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    for event in listened:
        assert event in EVENT_SUBSCRIPTIONS, f"add {event!r} to EVENT_SUBSCRIPTIONS"
        missing = set(EVENT_SUBSCRIPTIONS[event]) - subscribed
        assert not missing, f"the manifest must subscribe to {sorted(missing)}"
    known = {s for event in listened for s in EVENT_SUBSCRIPTIONS[event]}
    assert subscribed <= known, f"subscribed but never handled: {sorted(subscribed - known)}"


def test_the_home_tab_is_enabled_when_the_app_publishes_it(manifest: dict[str, Any]) -> None:
    """A Home tab Slack does not show would be published for nothing; one it shows needs its event."""
    publishes = "views_publish" in set(WEB_API_CALL.findall(code()))
    assert manifest["features"]["app_home"]["home_tab_enabled"] is publishes
    assert ("app_home_opened" in set(EVENT_LISTENER.findall(code()))) is publishes
    assert ("app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]) is publishes


def test_scopes_cover_exactly_what_the_code_uses(manifest: dict[str, Any]) -> None:
    methods = set(WEB_API_CALL.findall(code()))
    assert {"chat_postMessage", "files_upload_v2", "views_open"} <= methods
    unknown = methods - set(METHOD_SCOPES)
    assert not unknown, f"add the scopes of {sorted(unknown)} to METHOD_SCOPES (and to the manifest)"
    needed = {"commands"} | {s for m in methods if (s := METHOD_SCOPES[m])}
    subscribed = manifest["settings"]["event_subscriptions"]["bot_events"]
    needed |= {scope for subs in EVENT_SUBSCRIPTIONS.values() for event, scope in subs.items()
               if event in subscribed and scope}
    granted = set(manifest["oauth_config"]["scopes"]["bot"])
    assert needed <= granted, f"missing scopes: {sorted(needed - granted)}"
    assert granted <= needed, f"scopes nothing uses: {sorted(granted - needed)}"


def test_searchable_menus_are_served_in_both_modes(manifest: dict[str, Any]) -> None:
    """The app answers ``block_suggestion``: Socket Mode needs no URL, HTTP mode needs the options URL."""
    assert re.search(r"app\.options\(", code()), "the app no longer serves select options?"
    assert "message_menu_options_url" not in manifest["settings"]["interactivity"]  # Socket Mode: no URLs
    instructions = (ROOT / "slack-manifest.yml").read_text()
    assert "message_menu_options_url: https://<your host>/slack/events" in instructions
