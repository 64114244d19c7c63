"""Where Slack installations live: ``slack_sdk``'s installation and OAuth state stores, on our database, tokens sealed.

``SealedInstallationStore`` is a ``slack_sdk`` ``InstallationStore`` on the tables of ``storage.models.slack_oauth``
(the tables, rows and queries of ``slack_sdk``'s own SQLAlchemy store, which cannot be imported here: it pulls in
SQLAlchemy's asyncio layer and its ``greenlet`` dependency). Its token columns seal on write and open on read with
the secret box, so the database holds only Fernet ciphertext of the bot, user and refresh tokens (and of the
incoming webhook URL); no query compares a token (they test it for NULL only), so sealing changes none of them.

``reseal_tokens`` re-encrypts them under the newest key (``python -m bot rotate-secrets``).
``OAuthStateStore`` keeps one row per ``/slack/install`` visit; a state is consumed by one ``DELETE`` that also
checks its expiry, so it works once even when two redirects race.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore as SdkOAuthStateStore
from sqlalchemy import ColumnElement, Engine, MetaData, RowMapping, String, Table, and_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from core.secrets import SecretBox
from storage.models.slack_oauth import (
    SEALED_COLUMNS,
    SEALED_LENGTH,
    SLACK_BOTS,
    SLACK_INSTALLATIONS,
    SLACK_OAUTH_STATES,
)

log = logging.getLogger(__name__)

STATE_LIFETIME = 10 * 60
"""Seconds an OAuth state (an install link) stays usable, Bolt's default."""


class Sealed(TypeDecorator[str]):
    """A string column holding ``box``'s ciphertext of the value: sealed when written, opened when read."""

    impl = String(SEALED_LENGTH)
    cache_ok = True

    def __init__(self, box: SecretBox) -> None:
        super().__init__()
        self.box = box

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        """Seal a token on its way into the database."""
        return None if value is None else self.box.seal(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        """Open a sealed token read back (SecretUnreadable when no key fits)."""
        return None if value is None else self.box.open(value)


def sealed_copy(table: Table, metadata: MetaData, box: SecretBox) -> Table:
    """``table`` in ``metadata``, its token columns typed ``Sealed``."""
    copy = table.to_metadata(metadata)
    for name in SEALED_COLUMNS:
        if name in copy.c:
            copy.c[name].type = Sealed(box)
    return copy


def naive_utc(value: Any) -> datetime | None:
    """A timestamp (epoch seconds or datetime) as the naive UTC datetime the store's columns hold."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    raise ValueError(f"not a timestamp: {type(value).__name__}")


class SealedInstallationStore(InstallationStore):
    """Installations and bots per workspace, as ``slack_sdk``'s SQLAlchemy store keeps them, tokens sealed.

    Rows are never updated in place but by ``installed_at``: a new install adds rows, the newest row wins, and a
    refreshed token (token rotation) updates the row it came from.
    """

    def __init__(self, client_id: str, engine: Engine, box: SecretBox) -> None:
        self.client_id = client_id
        self.engine = engine
        self.metadata = MetaData()
        self.bots = sealed_copy(SLACK_BOTS, self.metadata, box)
        self.installations = sealed_copy(SLACK_INSTALLATIONS, self.metadata, box)

    @property
    def logger(self) -> logging.Logger:
        """The store's logger."""
        return log

    def save(self, installation: Installation) -> None:
        """Store an installation (and its bot)."""
        row = self._row(installation.to_dict(), ("installed_at", "bot_token_expires_at", "user_token_expires_at"))
        self._upsert(self.installations, row)
        self.save_bot(installation.to_bot())

    def save_bot(self, bot: Bot) -> None:
        """Store a bot (a workspace's bot token)."""
        self._upsert(self.bots, self._row(bot.to_dict(), ("installed_at", "bot_token_expires_at")))

    def find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                 is_enterprise_install: bool | None = False) -> Bot | None:
        """The newest bot with a token of the workspace (or of the organisation, for an org-wide install)."""
        c = self.bots.c
        query = (select(self.bots).where(self._of(c, enterprise_id, team_id, is_enterprise_install),
                                         c.bot_token.is_not(None))
                 .order_by(c.installed_at.desc()).limit(1))
        with self.engine.connect() as connection:
            found = connection.execute(query).mappings().first()
        return bot_of(found) if found is not None else None

    def find_team_bot(self, team_id: str) -> Bot | None:
        """The newest bot with a token of workspace ``team_id``, in an Enterprise Grid organisation or not.

        Slack's team ids are unique across organisations, so a worker that knows only the team (a queued request,
        a ``ConversationRef``) finds the bot without the organisation's id.
        """
        c = self.bots.c
        query = (select(self.bots).where(c.client_id == self.client_id, c.team_id == team_id, c.bot_token.is_not(None))
                 .order_by(c.installed_at.desc()).limit(1))
        with self.engine.connect() as connection:
            found = connection.execute(query).mappings().first()
        return bot_of(found) if found is not None else None

    def find_installation(self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
                          is_enterprise_install: bool | None = False) -> Installation | None:
        """The newest installation of the workspace (by ``user_id`` when given), with the newest bot token."""
        c = self.installations.c
        where = self._of(c, enterprise_id, team_id, is_enterprise_install)
        if user_id is not None:
            where = and_(where, c.user_id == user_id)
        query = select(self.installations).where(where).order_by(c.installed_at.desc()).limit(1)
        with self.engine.connect() as connection:
            found = connection.execute(query).mappings().first()
        if found is None:
            return None
        installation = installation_of(found)
        if user_id is not None or installation.bot_token is None:
            latest = self.find_bot(enterprise_id=enterprise_id, team_id=team_id,
                                   is_enterprise_install=is_enterprise_install)
            if latest is not None and latest.bot_token != installation.bot_token:
                installation.bot_id, installation.bot_user_id = latest.bot_id, latest.bot_user_id
                installation.bot_token, installation.bot_scopes = latest.bot_token, latest.bot_scopes
                installation.bot_refresh_token = latest.bot_refresh_token
                installation.bot_token_expires_at = latest.bot_token_expires_at
        return installation

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget the workspace's bots."""
        with self.engine.begin() as connection:
            connection.execute(self.bots.delete().where(self._of(self.bots.c, enterprise_id, team_id, False)))

    def delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                            user_id: str | None = None) -> None:
        """Forget the workspace's installations (only ``user_id``'s when given)."""
        c = self.installations.c
        where = self._of(c, enterprise_id, team_id, False)
        if user_id is not None:
            where = and_(where, c.user_id == user_id)
        with self.engine.begin() as connection:
            connection.execute(self.installations.delete().where(where))

    def _of(self, c: Any, enterprise_id: str | None, team_id: str | None,
            is_enterprise_install: bool | None) -> ColumnElement[bool]:
        team = None if is_enterprise_install or team_id is None else team_id
        return and_(c.client_id == self.client_id, c.enterprise_id.is_(None) if enterprise_id is None
                    else c.enterprise_id == enterprise_id, c.team_id.is_(None) if team is None else c.team_id == team)

    def _row(self, data: Mapping[str, Any], timestamps: tuple[str, ...]) -> dict[str, Any]:
        row = {**data, "client_id": self.client_id}
        for name in timestamps:
            row[name] = naive_utc(row.get(name))
        return row

    def _upsert(self, table: Table, row: dict[str, Any]) -> None:
        """Update the row of the same install (workspace and ``installed_at``), or add it."""
        c = table.c
        with self.engine.begin() as connection:
            same = connection.execute(select(c.id).where(
                self._of(c, row.get("enterprise_id"), row.get("team_id"), False),
                c.installed_at == row["installed_at"]).limit(1)).scalar()
            known = {column.name for column in table.columns} - {"id"}
            values = {k: v for k, v in row.items() if k in known}
            if same is None:
                connection.execute(table.insert().values(**values))
            else:
                connection.execute(table.update().where(c.id == same).values(**values))


BOT_FIELDS = ("app_id", "enterprise_id", "enterprise_name", "team_id", "team_name", "bot_token", "bot_id",
              "bot_user_id", "bot_scopes", "bot_refresh_token", "bot_token_expires_at", "is_enterprise_install",
              "installed_at")
INSTALLATION_FIELDS = (*BOT_FIELDS, "enterprise_url", "user_id", "user_token", "user_scopes", "user_refresh_token",
                       "user_token_expires_at", "incoming_webhook_url", "incoming_webhook_channel",
                       "incoming_webhook_channel_id", "incoming_webhook_configuration_url", "token_type")


def bot_of(row: RowMapping) -> Bot:
    """A stored bot row as ``slack_sdk``'s Bot (its naive timestamps are UTC)."""
    return Bot(**{name: row[name] for name in BOT_FIELDS})


def installation_of(row: RowMapping) -> Installation:
    """A stored installation row as ``slack_sdk``'s Installation."""
    return Installation(**{name: row[name] for name in INSTALLATION_FIELDS})


class OAuthStateStore(SdkOAuthStateStore):
    """OAuth states on ``slack_oauth_states``: issued per install visit, consumed once, expiring."""

    def __init__(self, engine: Engine, expiration_seconds: int = STATE_LIFETIME) -> None:
        self.engine = engine
        self.expiration_seconds = expiration_seconds
        self.table = SLACK_OAUTH_STATES

    @property
    def logger(self) -> logging.Logger:
        """The store's logger."""
        return log

    def issue(self, *args: Any, **kwargs: Any) -> str:
        """A new random state, valid for ``expiration_seconds``; expired states are swept at the same time."""
        state = str(uuid.uuid4())
        now = naive_utc(time.time())
        with self.engine.begin() as connection:
            connection.execute(self.table.delete().where(self.table.c.expire_at <= now))
            connection.execute(self.table.insert().values(
                state=state, expire_at=naive_utc(time.time() + self.expiration_seconds)))
        return state

    def consume(self, state: str) -> bool:
        """Whether ``state`` was issued, is unused and unexpired; a valid state is used up (expired ones are swept)."""
        with self.engine.begin() as connection:
            gone = connection.execute(self.table.delete().where(
                self.table.c.state == state, self.table.c.expire_at > naive_utc(time.time())))
        return bool(gone.rowcount == 1)


def reseal_tokens(session: Session, box: SecretBox) -> int:
    """Re-encrypt every stored Slack token under the newest key (``rotate-secrets``); returns how many."""
    count = 0
    for table in (SLACK_BOTS, SLACK_INSTALLATIONS):
        sealed = [table.c[name] for name in SEALED_COLUMNS if name in table.c]
        rows = session.execute(select(table.c.id, *sealed).with_for_update()).mappings().all()
        for row in rows:
            values = {column.name: box.rotate(row[column.name]) for column in sealed if row[column.name]}
            if values:
                session.execute(update(table).where(table.c.id == row["id"]).values(**values))
                count += len(values)
    return count
