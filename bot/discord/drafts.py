"""Form drafts: a form being filled in on Discord, kept in the database between modal steps.

A Discord modal holds at most 5 inputs and carries no hidden state, so a sent form is stored as a
draft keyed by a random token (the modal's and the "Next"/"Try again" buttons' custom ids carry only
that token). The draft holds the form's definition, the owner and the values entered so far, so steps,
retries and submissions keep working after a restart and from any process.

Storage: a row of the ``form_drafts`` table, purged after ``DRAFT_TTL``. Secret values are never written
there: they stay in this process's memory and are asked for again if the process restarted in between
(forms put secret inputs in their last step).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete

from commands.ui.model import Form, FormValue, Input, Option
from storage.db import Database
from storage.models import FormDraft, utcnow

DRAFT_TTL = timedelta(hours=6)


@dataclass
class Draft:
    """A form in progress: whose it is, its definition, and the values entered so far."""

    token: str
    user: str
    form: Form
    values: dict[str, FormValue] = field(default_factory=dict)

    def input(self, name: str) -> Input | None:
        """The form's input ``name``, or None if it has none."""
        return next((i for i in self.form.inputs if i.name == name), None)


class DraftStore:
    """Drafts in the database; secret values only in memory."""

    def __init__(self, db: Database, ttl: timedelta = DRAFT_TTL) -> None:
        self.db = db
        self.ttl = ttl
        self._secrets: dict[str, dict[str, FormValue]] = {}
        self._lock = threading.Lock()

    def create(self, user: str, form: Form) -> Draft:
        """A new draft for ``user``; expired drafts are purged on the way."""
        draft = Draft(secrets.token_hex(8), user, form)
        with self.db.unit_of_work() as session:
            session.execute(delete(FormDraft).where(FormDraft.updated_at < utcnow() - self.ttl))
            session.add(FormDraft(token=draft.token, owner=user, payload=_dump(draft)))
        return draft

    def load(self, token: str) -> Draft | None:
        """The draft, with its secrets if this process still has them; None when unknown or expired."""
        with self.db.unit_of_work() as session:
            row = session.get(FormDraft, token)
            if row is None or _expired(row.updated_at, self.ttl):
                return None
            draft = _load(token, row.payload)
        with self._lock:
            draft.values.update(self._secrets.get(token, {}))
        return draft

    def save(self, draft: Draft) -> None:
        """Store the values entered so far; secret ones stay in memory."""
        kept = {k: v for k, v in draft.values.items() if not _is_secret(draft, k)}
        with self._lock:
            self._secrets[draft.token] = {k: v for k, v in draft.values.items() if _is_secret(draft, k)}
        with self.db.unit_of_work() as session:
            row = session.get(FormDraft, draft.token)
            payload = _dump(Draft(draft.token, draft.user, draft.form, kept))
            if row is None:
                session.add(FormDraft(token=draft.token, owner=draft.user, payload=payload))
            else:
                row.payload = payload

    def forget_secrets(self, token: str) -> None:
        """Drop the secret values held in memory for draft ``token``."""
        with self._lock:
            self._secrets.pop(token, None)


def _is_secret(draft: Draft, name: str) -> bool:
    found = draft.input(name)
    return found is not None and found.kind == "secret"


def _expired(updated_at: datetime, ttl: timedelta) -> bool:
    return updated_at < utcnow() - ttl


def _dump(draft: Draft) -> dict[str, Any]:
    form = asdict(draft.form)
    for item in form["inputs"]:
        if item["kind"] == "secret":
            item["default"] = None
    return {"user": draft.user, "form": form, "values": {k: _plain(v) for k, v in draft.values.items()}}


def _plain(value: FormValue) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _value(value: Any) -> FormValue:
    return tuple(value) if isinstance(value, list) else value


def _load(token: str, data: dict[str, Any]) -> Draft:
    raw = data["form"]
    inputs = tuple(Input(**{**i, "default": _value(i["default"]), "options": tuple(Option(**o) for o in i["options"])})
                   for i in raw["inputs"])
    form = Form(**{**raw, "inputs": inputs})
    return Draft(token, data["user"], form, {k: _value(v) for k, v in data["values"].items()})
