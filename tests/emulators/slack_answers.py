"""Canned Web API answers of the Slack emulator, one function per method, shaped like Slack's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.emulators.slack_validate import message_errors, view_errors

if TYPE_CHECKING:
    from tests.emulators.slack import SlackEmulator

Answer = dict[str, Any]


def _need(body: dict[str, Any], *names: str) -> str | None:
    """The first missing required argument, if any."""
    return next((n for n in names if not body.get(n)), None)


def _auth_test(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    """The token's identity: its own workspace and bot for a token the OAuth side issued, else the default."""
    return {"ok": True, "url": "https://rad-test.slack.com/", "team": body.get("_team_name", "RAD Test"),
            "user": "rad", "team_id": body.get("_team_id", emu.team_id),
            "user_id": body.get("_bot_user_id", emu.bot_user_id), "bot_id": body.get("_bot_id", emu.bot_id),
            "is_enterprise_install": False}


def _message(emu: SlackEmulator, body: dict[str, Any], ts: str) -> Answer:
    message = {"type": "message", "text": body.get("text", ""), "user": body.get("_bot_user_id", emu.bot_user_id),
               "bot_id": body.get("_bot_id", emu.bot_id), "ts": ts, "team": body.get("_team_id", emu.team_id)}
    for name in ("blocks", "attachments", "metadata"):
        if body.get(name):
            message[name] = body[name]
    if body.get("thread_ts"):
        message["thread_ts"] = body["thread_ts"]
    return message


def _invalid(emu: SlackEmulator, method: str, body: dict[str, Any]) -> Answer | None:
    """Slack's answer to a message it would refuse (recorded as a failure), or None when it is valid."""
    errors = message_errors(body)
    if not errors:
        return None
    emu.record_failure(method, errors, body)
    code = "invalid_attachments" if all(e.startswith("attachments") for e in errors) else "invalid_blocks"
    if any(e.startswith("text:") for e in errors) and len(errors) == 1:
        code = "msg_too_long"
    return {"ok": False, "error": code, "errors": errors,
            "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}}


def _post_message(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    if _need(body, "channel"):
        return {"ok": False, "error": "channel_not_found"}
    if not body.get("text") and not body.get("blocks") and not body.get("attachments"):
        return {"ok": False, "error": "no_text"}
    refused = _invalid(emu, "chat.postMessage", body)
    if refused:
        return refused
    ts = emu.next_ts()
    message = _message(emu, body, ts)
    emu.store_message(str(body["channel"]), message)
    if body.get("thread_ts") and emu.thread_status(str(body["channel"]), str(body["thread_ts"])):
        emu.set_thread_status(str(body["channel"]), str(body["thread_ts"]), "")  # a reply clears the status
    return {"ok": True, "channel": body["channel"], "ts": ts, "message": message}


def _post_ephemeral(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    missing = _need(body, "channel", "user")
    if missing:
        return {"ok": False, "error": "channel_not_found" if missing == "channel" else "user_not_in_channel"}
    refused = _invalid(emu, "chat.postEphemeral", body)
    if refused:
        return refused
    ts = emu.next_ts()
    emu.store_ephemeral(str(body["channel"]), str(body["user"]), _message(emu, body, ts))
    return {"ok": True, "message_ts": ts}


def _update(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    if _need(body, "channel", "ts"):
        return {"ok": False, "error": "message_not_found"}
    channel, ts = str(body["channel"]), str(body["ts"])
    stored = emu.message(channel, ts)
    if stored is None:
        return {"ok": False, "error": "message_not_found"}
    refused = _invalid(emu, "chat.update", body)
    if refused:
        return refused
    message = _message(emu, {**body, "thread_ts": stored.get("thread_ts")}, ts)
    emu.store_message(channel, message)
    return {"ok": True, "channel": channel, "ts": ts, "text": body.get("text", ""), "message": message}


def _delete(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    if _need(body, "channel", "ts"):
        return {"ok": False, "error": "message_not_found"}
    if not emu.delete_message(str(body["channel"]), str(body["ts"])):
        return {"ok": False, "error": "message_not_found"}
    return {"ok": True, "channel": body["channel"], "ts": body["ts"]}


def _view_answer(emu: SlackEmulator, body: dict[str, Any], *, method: str) -> Answer:
    need = {"views.open": "trigger_id", "views.push": "trigger_id", "views.publish": "user_id"}.get(method)
    if (need and not body.get(need)) or not isinstance(body.get("view"), dict):
        return {"ok": False, "error": "invalid_arguments"}
    errors = view_errors(body["view"])
    if method == "views.publish" and body["view"].get("type") != "home":
        errors.append(f"view.type: views.publish publishes a Home tab (type home), not {body['view'].get('type')!r}")
    elif method != "views.publish" and body["view"].get("type") == "home":
        errors.append(f"view.type: {method} opens modals; a Home tab is published with views.publish")
    if errors:
        emu.record_failure(method, errors, body)
        return {"ok": False, "error": "invalid_arguments", "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}}
    previous: dict[str, Any] | None = None
    if method == "views.update":
        previous = emu.view(str(body.get("view_id") or ""), str(body.get("external_id") or ""))
        if previous is None:
            return {"ok": False, "error": "not_found"}
        if body.get("hash") and body["hash"] != previous["hash"]:
            return {"ok": False, "error": "hash_conflict"}
    if method == "views.publish":
        previous = emu.home(str(body["user_id"]))
        if body.get("hash") and previous is not None and body["hash"] != previous["hash"]:
            return {"ok": False, "error": "hash_conflict"}
    n = emu.next_id()
    view = dict(body["view"])
    view_id = previous["id"] if previous else f"V{n:08d}"
    view.update({"id": view_id, "team_id": emu.team_id, "state": {"values": {}},
                 "hash": f"{1_700_000_000 + n}.abc{n}", "app_id": "A1", "bot_id": emu.bot_id,
                 "root_view_id": previous["root_view_id"] if previous else view_id, "previous_view_id": None})
    view.setdefault("private_metadata", "")
    view.setdefault("callback_id", "")
    view.setdefault("external_id", "")
    emu.store_view(view)
    if method == "views.publish":
        emu.store_home(str(body["user_id"]), view)
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


def _set_status(emu: SlackEmulator, body: dict[str, Any]) -> Answer:
    """``assistant.threads.setStatus``: a bot token, a channel, a thread's parent message and a status ("" clears).

    Refused as Slack refuses it: another token kind (``not_allowed_token_type``), a workspace or app that does not
    allow it (``status_refusal``: ``missing_scope`` names the scope), an unknown channel or thread.
    """
    if body.get("_token_kind") != "xoxb":
        return {"ok": False, "error": "not_allowed_token_type"}
    if emu.status_refusal:
        refused: Answer = {"ok": False, "error": emu.status_refusal}
        if emu.status_refusal == "missing_scope":
            refused.update(needed="chat:write,assistant:write", provided="chat:write.public,commands")
        return refused
    if "status" not in body or not isinstance(body["status"], str):
        return {"ok": False, "error": "invalid_arguments",
                "response_metadata": {"messages": ["[ERROR] missing required field: status"]}}
    channel, thread_ts = str(body.get("channel_id") or ""), str(body.get("thread_ts") or "")
    if not channel or not emu.messages(channel):
        return {"ok": False, "error": "channel_not_found"}
    parent = emu.message(channel, thread_ts) if thread_ts else None
    if parent is None or parent.get("thread_ts") not in (None, "", thread_ts):
        return {"ok": False, "error": "invalid_thread_ts"}
    emu.set_thread_status(channel, thread_ts, body["status"])
    return {"ok": True}


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
    "views.open": lambda emu, body: _view_answer(emu, body, method="views.open"),
    "views.push": lambda emu, body: _view_answer(emu, body, method="views.push"),
    "views.update": lambda emu, body: _view_answer(emu, body, method="views.update"),
    "views.publish": lambda emu, body: _view_answer(emu, body, method="views.publish"),
    "users.info": _users_info,
    "conversations.open": _conversations_open,
    "files.getUploadURLExternal": _upload_url,
    "files.completeUploadExternal": _complete_upload,
    "apps.connections.open": _connections_open,
    "assistant.threads.setStatus": _set_status,
}
