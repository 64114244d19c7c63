"""Discord API objects as the real API sends them: users, messages, channels, guilds, interactions.

Used by the Discord emulator for its answers, and by tests and benchmarks to build gateway events
(INTERACTION_CREATE, MESSAGE_CREATE, GUILD_CREATE) that discord.py parses like real ones.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000
JSON = dict[str, Any]

_counter = itertools.count()
_lock = threading.Lock()


def snowflake() -> str:
    """A fresh, increasing snowflake id (time-based like Discord's)."""
    with _lock:
        return str(((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) + (next(_counter) % (1 << 22)))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def user(user_id: str, username: str = "", *, bot: bool = False) -> JSON:
    data: JSON = {"id": user_id, "username": username or f"user{user_id[-4:]}", "discriminator": "0",
                  "global_name": username or None, "avatar": None, "public_flags": 0}
    if bot:
        data["bot"] = True
    return data


def member(user_data: JSON) -> JSON:
    """A guild member as carried by interactions and messages."""
    return {"user": user_data, "roles": [], "joined_at": now_iso(), "deaf": False, "mute": False,
            "flags": 0, "pending": False, "nick": None, "permissions": "2147483647"}


def text_channel(channel_id: str, guild_id: str, name: str = "general") -> JSON:
    return {"id": channel_id, "type": 0, "guild_id": guild_id, "name": name, "position": 0,
            "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
            "rate_limit_per_user": 0, "last_message_id": None}


def thread_channel(thread_id: str, parent_id: str, guild_id: str, *, name: str = "thread",
                   owner_id: str = "0") -> JSON:
    return {"id": thread_id, "type": 11, "guild_id": guild_id, "parent_id": parent_id, "owner_id": owner_id,
            "name": name, "rate_limit_per_user": 0, "message_count": 0, "member_count": 1, "flags": 0,
            "last_message_id": None,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                "archive_timestamp": now_iso(), "locked": False}}


def guild(guild_id: str, *, name: str = "RAD test", channels: Sequence[JSON] = (),
          threads: Sequence[JSON] = (), owner_id: str = "1") -> JSON:
    """A GUILD_CREATE payload with its channels and active threads."""
    everyone = {"id": guild_id, "name": "@everyone", "permissions": "2147483647", "position": 0, "color": 0,
                "hoist": False, "managed": False, "mentionable": False, "flags": 0}
    return {"id": guild_id, "name": name, "icon": None, "owner_id": owner_id, "roles": [everyone], "emojis": [],
            "stickers": [], "features": [], "channels": list(channels), "threads": list(threads), "members": [],
            "member_count": 1, "unavailable": False, "large": False, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
            "premium_tier": 0, "preferred_locale": "en-US", "system_channel_flags": 0, "nsfw_level": 0,
            "voice_states": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
            "joined_at": now_iso()}


def message(message_id: str, channel_id: str, author: JSON, *, content: str = "",
            embeds: Sequence[JSON] = (), components: Sequence[JSON] = (), attachments: Sequence[JSON] = (),
            flags: int = 0, guild_id: str | None = None, webhook_id: str | None = None) -> JSON:
    """A message object; ``guild_id`` makes it a guild message (with a member)."""
    data: JSON = {"id": message_id, "channel_id": channel_id, "type": 0, "content": content, "author": author,
                  "timestamp": now_iso(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
                  "mentions": [], "mention_roles": [], "attachments": list(attachments), "embeds": list(embeds),
                  "pinned": False, "components": list(components), "flags": flags}
    if guild_id:
        data["guild_id"] = guild_id
        data["member"] = {k: v for k, v in member(author).items() if k != "user"}
    if webhook_id:
        data["webhook_id"] = webhook_id
    return data


def attachment(filename: str, size: int, content_type: str = "application/octet-stream") -> JSON:
    attachment_id = snowflake()
    url = f"https://cdn.example.invalid/attachments/{attachment_id}/{filename}"
    return {"id": attachment_id, "filename": filename, "size": size, "url": url, "proxy_url": url,
            "content_type": content_type}


def interaction(kind: int, data: JSON, *, application_id: str, user_data: JSON, channel_id: str,
                guild_id: str | None = None, message_data: JSON | None = None, interaction_id: str | None = None,
                token: str | None = None) -> JSON:
    """An INTERACTION_CREATE payload: 2 command, 3 component, 4 autocomplete, 5 modal submit."""
    payload: JSON = {
        "id": interaction_id or snowflake(), "application_id": application_id, "type": kind, "data": data,
        "token": token or "itok-" + secrets.token_hex(16), "version": 1, "channel_id": channel_id,
        "locale": "en-US", "attachment_size_limit": 10 * 1024 * 1024, "app_permissions": "2147483647",
        "entitlements": [], "authorizing_integration_owners": {"0": guild_id or "0"}, "context": 0,
    }
    if guild_id:
        payload["guild_id"] = guild_id
        payload["guild_locale"] = "en-US"
        payload["member"] = member(user_data)
        payload["channel"] = text_channel(channel_id, guild_id)
    else:
        payload["user"] = user_data
        payload["channel"] = {"id": channel_id, "type": 1}
    if message_data is not None:
        payload["message"] = message_data
    return payload


def command_data(command: str, path: Sequence[str], options: Mapping[str, Any] | None = None, *,
                 types: Mapping[str, int] | None = None, resolved_users: Sequence[JSON] = (),
                 command_id: str = "", focused: str = "") -> JSON:
    """``data`` of a chat-input command: ``/rad admin grant`` is ``command("rad", ["admin", "grant"], ...)``.

    Option types default to STRING (3); pass INTEGER 4, USER 6 in ``types``. ``focused`` names the option
    being typed in an autocomplete interaction (its value is what was typed so far).
    """
    types = types or {}
    leaf = [{"name": k, "type": types.get(k, 4 if isinstance(v, int) else 3), "value": v,
             **({"focused": True} if k == focused else {})}
            for k, v in (options or {}).items()]
    nested: list[JSON] = leaf
    for depth, word in enumerate(reversed(path)):
        nested = [{"name": word, "type": 1 if depth == 0 else 2, "options": nested}]
    data: JSON = {"id": command_id or snowflake(), "name": command, "type": 1, "options": nested}
    if resolved_users:
        data["resolved"] = {"users": {u["id"]: u for u in resolved_users}}
    return data


def component_data(custom_id: str, component_type: int = 2, values: Sequence[str] = ()) -> JSON:
    data: JSON = {"custom_id": custom_id, "component_type": component_type}
    if component_type != 2:
        data["values"] = list(values)
    return data


def modal_data(custom_id: str, values: Mapping[str, str | list[str] | bool]) -> JSON:
    """``data`` of a modal submission: text values for text inputs, lists for selects, bools for checkboxes."""
    rows: list[JSON] = []
    for field_id, value in values.items():
        if isinstance(value, list):
            inner: JSON = {"type": 3, "custom_id": field_id, "values": value}
        elif isinstance(value, bool):
            inner = {"type": 23, "custom_id": field_id, "value": value}
        else:
            inner = {"type": 4, "custom_id": field_id, "value": value}
        rows.append({"type": 18, "id": len(rows) + 1, "component": inner})
    return {"custom_id": custom_id, "components": rows}
