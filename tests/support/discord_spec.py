"""Validate what the bot sends to Discord against Discord's OpenAPI description.

The tests carry the part of it they use (``tests/specs/discord-openapi.subset.json``, MIT licence beside it,
made by ``tests/specs/make_discord_subset.py``), so a fresh clone needs nothing beside it.

JSON Schema Draft 2020-12 with a ``referencing`` registry holding the whole spec under one URI, so the
spec's own ``#/components/...`` references resolve. The spec cannot express the 6000-character embed
total or the 2000-character content limit (it says 4000); ``check_message_limits`` checks those.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.emulators.discord import Call

SPEC_PATH = Path(__file__).resolve().parent / "specs" / "discord-openapi.subset.json"
URI = "urn:discord:openapi"


@functools.cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return data


@functools.cache
def _registry() -> Registry:
    registry: Registry = Registry().with_resource(URI, DRAFT202012.create_resource(spec()))
    return registry


@functools.cache
def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{URI}#{pointer}"}, registry=_registry())


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def validate(instance: Any, pointer: str) -> None:
    """Raise AssertionError listing every error of ``instance`` against the schema at ``pointer``."""
    errors = list(_validator(pointer).iter_errors(instance))
    if errors:
        leaves = sorted(_leaves(errors), key=lambda e: -len(e.absolute_path))
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in leaves[:12]]
        raise AssertionError(f"invalid against {pointer}:\n" + "\n".join(lines))


def _leaves(errors: list[ValidationError]) -> list[ValidationError]:
    """The innermost errors of anyOf/oneOf branches: those name the offending field."""
    found: list[ValidationError] = []
    for error in errors:
        found += _leaves(list(error.context)) if error.context else [error]
    return found


def validate_schema(instance: Any, name: str) -> None:
    """Validate against ``#/components/schemas/<name>``."""
    validate(instance, f"/components/schemas/{name}")


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    found = []
    for template in spec()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        found.append((re.compile(pattern), template))
    return sorted(found, key=lambda item: item[1].count("{"))


def request_pointer(method: str, path: str) -> str | None:
    """The JSON pointer of the JSON request body schema for ``method path``, or None if it has none."""
    for pattern, template in _templates():
        if pattern.fullmatch(path):
            operation = spec()["paths"][template].get(method.lower(), {})
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                return f"/paths/{_escape(template)}/{method.lower()}/requestBody/content/application~1json/schema"
            return None
    raise AssertionError(f"{method} {path} is not in Discord's API description")


def validate_call(call: Call) -> None:
    """A recorded call's body (or multipart ``payload_json``) against its route's request schema."""
    pointer = request_pointer(call.method, call.path)
    if pointer is not None and call.json is not None:
        validate(_normalised(call.json), pointer)
    message = _message_body(call)
    if message is not None:
        check_message_limits(message)


def _normalised(body: Any) -> Any:
    """discord.py sends attachment ids as integer file indexes, which Discord accepts; the spec says strings."""
    if isinstance(body, dict):
        return {k: ([{**a, "id": str(a["id"])} if isinstance(a, dict) and isinstance(a.get("id"), int) else a
                     for a in v] if k == "attachments" and isinstance(v, list) else _normalised(v))
                for k, v in body.items()}
    return [_normalised(v) for v in body] if isinstance(body, list) else body


def _message_body(call: Call) -> dict[str, Any] | None:
    body = call.json
    if not isinstance(body, dict):
        return None
    if call.path.endswith("/callback"):
        data = body.get("data")
        return data if body.get("type") in (4, 7) and isinstance(data, dict) else None
    if "/messages" in call.path or call.path.startswith("/webhooks/"):
        return body
    return None


def check_message_limits(body: dict[str, Any]) -> None:
    """The limits the spec does not encode: content ≤ 2000, ≤ 10 embeds, ≤ 6000 embed characters in all."""
    assert len(body.get("content") or "") <= 2000, "content over 2000 characters"
    embeds = body.get("embeds") or []
    assert len(embeds) <= 10, "more than 10 embeds"
    assert sum(embed_chars(e) for e in embeds) <= 6000, "more than 6000 embed characters"
    assert len(body.get("components") or []) <= 5, "more than 5 action rows"


def embed_chars(embed: dict[str, Any]) -> int:
    """Characters Discord counts towards the 6000 limit: title, description, fields, footer, author."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in embed.get("fields") or [])
    total += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    return total
