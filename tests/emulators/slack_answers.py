"""Canned Web API answers of the Slack emulator, one function per method, shaped like Slack's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.emulators.slack import SlackEmulator

Answer = dict[str, Any]


def _need(body: dict[str, Any], *names: str) -> str | None:
    """The first missing required argument, if any."""
    return next((n for n in names if not body.get(n)), None)


def _auth_test(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    return {"ok": True, "url": "https://rad-test.slack.com/", "team": "RAD Test", "user": "rad",
            "team_id": emu.team_id, "user_id": emu.bot_user_id, "bot_id": emu.bot_id,
            "is_enterprise_install": False}


def _message(emu: SlackEmulator, body: dict[str, Any], ts: str) -> Answer:
    message = {"type": "message", "text": body.get("text", ""), "user": emu.bot_user_id, "bot_id": emu.bot_id,
               "ts": ts, "team": emu.team_id}
    if body.get("blocks"):
        message["blocks"] = body["blocks"]
    if body.get("thread_ts"):
        message["thread_ts"] = body["thread_ts"]
    return message


def _post_message(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    if _need(body, "channel"):
        return {"ok": False, "error": "channel_not_found"}
    if not body.get("text") and not body.get("blocks"):
        return {"ok": False, "error": "no_text"}
    ts = emu.next_ts()
    return {"ok": True, "channel": body["channel"], "ts": ts, "message": _message(emu, body, ts)}


def _post_ephemeral(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    missing = _need(body, "channel", "user")
    if missing:
        return {"ok": False, "error": "channel_not_found" if missing == "channel" else "user_not_in_channel"}
    return {"ok": True, "message_ts": emu.next_ts()}


def _update(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    if _need(body, "channel", "ts"):
        return {"ok": False, "error": "message_not_found"}
    return {"ok": True, "channel": body["channel"], "ts": body["ts"], "text": body.get("text", ""),
            "message": _message(emu, body, str(body["ts"]))}


def _delete(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    if _need(body, "channel", "ts"):
        return {"ok": False, "error": "message_not_found"}
    return {"ok": True, "channel": body["channel"], "ts": body["ts"]}


def _view_answer(emu: SlackEmulator, body: dict[str, Any], *, need: str | None) -> Answer:
    if (need and not body.get(need)) or not isinstance(body.get("view"), dict):
        return {"ok": False, "error": "invalid_arguments"}
    view = dict(body["view"])
    n = emu.next_id()
    view.update({"id": body.get("view_id") or f"V{n:08d}", "team_id": emu.team_id, "state": {"values": {}},
                 "hash": f"{1_700_000_000 + n}.abc{n}", "app_id": "A1", "bot_id": emu.bot_id,
                 "root_view_id": f"V{n:08d}", "previous_view_id": None})
    view.setdefault("private_metadata", "")
    view.setdefault("callback_id", "")
    return {"ok": True, "view": view}


def _users_info(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    user = str(body.get("user", ""))
    if not user.startswith(("U", "W")):
        return {"ok": False, "error": "user_not_found"}
    name = user.lower()
    return {"ok": True, "user": {
        "id": user, "team_id": emu.team_id, "name": name, "real_name": f"User {user}", "deleted": False,
        "is_bot": False, "is_admin": False, "tz": "Europe/London", "tz_offset": 0, "locale": "en-US",
        "profile": {"display_name": name, "real_name": f"User {user}", "email": f"{name}@example.com"},
    }}


def _conversations_open(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    users = str(body.get("users", ""))
    if not users:
        return {"ok": False, "error": "users_list_not_supplied"}
    return {"ok": True, "channel": {"id": "D" + users.split(",")[0].lstrip("UW"), "is_im": True}}


def _upload_url(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    if _need(body, "filename", "length"):
        return {"ok": False, "error": "invalid_arguments"}
    file_id = f"F{emu.next_id():08d}"
    return {"ok": True, "file_id": file_id, "upload_url": f"http://{emu.host}:{emu.port}/upload/{file_id}"}


def _complete_upload(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    files = body.get("files")
    if not isinstance(files, list) or not files:
        return {"ok": False, "error": "invalid_arguments"}
    return {"ok": True, "files": [{"id": f.get("id"), "title": f.get("title") or "", "name": f.get("title") or ""}
                                  for f in files]}


def _connections_open(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    if body.get("_token_kind") != "xapp":
        return {"ok": False, "error": "not_allowed_token_type"}
    return {"ok": True, "url": f"ws://{emu.host}:{emu.port}/socket-mode"}


RESPONDERS: dict[str, Callable[[SlackEmulator, dict[str, Any]], Answer]] = {
    "auth.test": _auth_test,
    "chat.postMessage": _post_message,
    "chat.postEphemeral": _post_ephemeral,
    "chat.update": _update,
    "chat.delete": _delete,
    "views.open": lambda emu, body: _view_answer(emu, body, need="trigger_id"),
    "views.push": lambda emu, body: _view_answer(emu, body, need="trigger_id"),
    "views.update": lambda emu, body: _view_answer(emu, body, need=None),
    "views.publish": lambda emu, body: _view_answer(emu, body, need="user_id"),
    "users.info": _users_info,
    "conversations.open": _conversations_open,
    "files.getUploadURLExternal": _upload_url,
    "files.completeUploadExternal": _complete_upload,
    "apps.connections.open": _connections_open,
}
