"""Slack installations (one row per workspace install) and OAuth states, as ``slack_sdk``'s SQLAlchemy stores read them.

The columns are the stores' own (``slack_sdk.oauth.installation_store.sqlalchemy`` and
``slack_sdk.oauth.state_store.sqlalchemy``), with the same names and index, so those stores work on these tables
unchanged. Two differences: every token column (and the incoming webhook URL, a right to post) is wide enough
for the Fernet ciphertext the bot stores there instead of the token (``bot.slack.installations`` seals and
opens it); and the timestamps are the stores' naive UTC ``DateTime``, as they write them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table

from storage.models.base import Base

SEALED_LENGTH = 1000
"""Room for a sealed token: a Fernet token is about 1.4 times the plaintext plus 80 characters."""
SEALED_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token", "incoming_webhook_url")
"""The columns that hold ciphertext, never a token in clear."""

SLACK_BOTS = Table(
    "slack_bots", Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(SEALED_LENGTH)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(SEALED_LENGTH)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, nullable=False, default=False),
    Column("installed_at", DateTime, nullable=False),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

SLACK_INSTALLATIONS = Table(
    "slack_installations", Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(SEALED_LENGTH)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(SEALED_LENGTH)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(SEALED_LENGTH)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(SEALED_LENGTH)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(SEALED_LENGTH)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, nullable=False, default=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)

SLACK_OAUTH_STATES = Table(
    "slack_oauth_states", Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
