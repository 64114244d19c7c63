"""Block Kit validation for the Slack emulator, with ``slack_sdk``'s models.

``slack_sdk`` parses an unknown block type to ``None`` and drops unknown keys silently, so each payload is
parsed, serialised again (``to_dict()`` runs every ``validate_json()`` down the tree) and compared with what
was sent: a difference is a field Slack would not accept. Message-level rules the models do not know
(≤50 blocks per message, unique ``block_id``s, unique ``action_id``s per block) are checked here too.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.attachments import Attachment, BlockAttachment
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100
MESSAGE_TEXT = 40_000
VIEW_BYTES = 250_000
_ATTACHMENT_EXTRA = ("id", "mrkdwn_in")  # accepted by Slack, not modelled by slack_sdk


def blocks_errors(blocks: Any, *, limit: int = MESSAGE_BLOCKS, where: str = "blocks") -> list[str]:
    """Everything Slack would reject in a ``blocks`` array (empty when it is valid)."""
    if not isinstance(blocks, list):
        return [f"{where}: must be an array of blocks, got {type(blocks).__name__}"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"{where}: {len(blocks)} blocks, at most {limit} are allowed")
    seen_ids: set[str] = set()
    for n, raw in enumerate(blocks):
        here = f"{where}[{n}]"
        if not isinstance(raw, dict):
            errors.append(f"{here}: a block must be an object")
            continue
        block_id = raw.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_ids:
                errors.append(f"{here}: duplicate block_id {block_id!r}")
            seen_ids.add(block_id)
        action_ids = [e.get("action_id") for e in raw.get("elements") or [] if isinstance(e, dict)]
        named = [a for a in action_ids if a]
        if len(named) != len(set(named)):
            errors.append(f"{here}: duplicate action_id in one block")
        errors += _model_errors(raw, here)
    return errors


def _model_errors(raw: dict[str, Any], where: str) -> list[str]:
    try:
        parsed = Block.parse(raw)
        if parsed is None:
            return [f"{where}: unknown block type {raw.get('type')!r}"]
        again = parsed.to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError) as error:
        return [f"{where}: {error}"]
    return differences(raw, again, where)


def differences(sent: Any, model: Any, where: str) -> list[str]:
    """Where ``sent`` differs from the model's round trip (keys the model dropped, values it changed)."""
    if isinstance(sent, dict) and isinstance(model, dict):
        found = [f"{where}.{key}: not a Block Kit field here" for key in sent if key not in model]
        for key in sent:
            if key in model:
                found += differences(sent[key], model[key], f"{where}.{key}")
        return found
    if isinstance(sent, list) and isinstance(model, list):
        if len(sent) != len(model):
            return [f"{where}: {len(sent)} item(s) sent, {len(model)} understood (unknown types dropped)"]
        return [e for n, (a, b) in enumerate(zip(sent, model, strict=True)) for e in differences(a, b, f"{where}[{n}]")]
    return [] if sent == model else [f"{where}: {sent!r} is not valid (understood as {model!r})"]


def attachments_errors(attachments: Any) -> list[str]:
    """Legacy attachments: each either a block attachment or a classic one, validated like Slack does."""
    if not isinstance(attachments, list):
        return [f"attachments: must be an array, got {type(attachments).__name__}"]
    errors: list[str] = []
    for n, raw in enumerate(attachments):
        here = f"attachments[{n}]"
        if not isinstance(raw, dict):
            errors.append(f"{here}: an attachment must be an object")
            continue
        if "blocks" in raw:
            errors += blocks_errors(raw["blocks"], where=f"{here}.blocks")
            rest = {k: v for k, v in raw.items() if k not in ("blocks", *_ATTACHMENT_EXTRA)}
            errors += _attachment_model(BlockAttachment, {**rest, "blocks": []}, here)
        else:
            rest = {k: v for k, v in raw.items() if k not in _ATTACHMENT_EXTRA}
            errors += _attachment_model(Attachment, {"text": "", **rest}, here)
    return errors


def _attachment_model(model: type[Attachment], raw: dict[str, Any], where: str) -> list[str]:
    try:
        model(**raw).validate_json()
    except (SlackObjectFormationError, TypeError, ValueError) as error:
        return [f"{where}: {error}"]
    return []


def view_errors(view: Any) -> list[str]:
    """Everything Slack would reject in a modal or Home tab view."""
    if not isinstance(view, dict):
        return ["view: must be an object"]
    if view.get("type") not in ("modal", "home"):
        return [f"view.type: {view.get('type')!r} is not modal or home"]
    errors = blocks_errors(view.get("blocks"), limit=VIEW_BLOCKS, where="view.blocks")
    try:
        model = View(**view)
        model.validate_json()
        again = model.to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError) as error:
        return [*errors, f"view: {error}"]
    errors += [e for e in differences({k: v for k, v in view.items() if k != "blocks"},
                                      {k: v for k, v in again.items() if k != "blocks"}, "view")]
    if len(str(view).encode()) > VIEW_BYTES:
        errors.append("view: larger than 250 kB (view_too_large)")
    return errors


def message_errors(body: dict[str, Any]) -> list[str]:
    """A ``chat.*`` or ``response_url`` message: its blocks, attachments and text."""
    errors: list[str] = []
    if "blocks" in body and body["blocks"] not in (None, ""):
        errors += blocks_errors(body["blocks"])
    if "attachments" in body and body["attachments"] not in (None, ""):
        errors += attachments_errors(body["attachments"])
    if len(str(body.get("text") or "")) > MESSAGE_TEXT:
        errors.append(f"text: longer than {MESSAGE_TEXT} characters (msg_too_long)")
    return errors
