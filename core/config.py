"""Configuration from the environment: the contract of DESIGN.md section 3."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DISCORD_API_URL = "https://discord.com/api/v10"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_JULES_API_URL = "https://jules.googleapis.com/v1alpha"
SANDBOX_MODES = ("bwrap", "off")
_SWITCH = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


@dataclass(frozen=True)
class Config:
    """Every setting the processes read, with the documented defaults.

    Secrets are kept out of ``repr`` so that a logged config never shows them.
    """

    data_dir: Path = Path(".rad")
    database_url: str = ""
    admins: tuple[str, ...] = ()
    command: str = "rad"
    slack_bot_token: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    slack_client_id: str = ""
    """``SLACK_CLIENT_ID``: with the client secret, the app installs in many workspaces (OAuth, HTTP mode)."""
    slack_client_secret: str = field(default="", repr=False)
    discord_token: str = field(default="", repr=False)
    discord_api_url: str = DEFAULT_DISCORD_API_URL
    discord_gateway_url: str = ""
    discord_shard_count: int | None = None
    """``DISCORD_SHARD_COUNT``: gateway shards to run; None: as many as Discord recommends."""
    github_api_url: str = DEFAULT_GITHUB_API_URL
    jules_api_url: str = DEFAULT_JULES_API_URL
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    terraform_bin: str = ""
    deploy_timeout: float = 1800.0
    port: int = 3000
    sandbox: str = "bwrap"
    """``RAD_SANDBOX``: ``bwrap`` (every Terraform command in a bubblewrap sandbox) or ``off``."""
    sandbox_network: bool = True
    """``RAD_SANDBOX_NETWORK``: whether a sandboxed run may reach the network (providers, clouds)."""
    terraform_env: tuple[str, ...] = ()
    """``RAD_TERRAFORM_ENV``: names of environment variables passed into Terraform runs (cloud credentials)."""
    metrics_token: str = field(default="", repr=False)
    log_format: str = "text"
    """``RAD_METRICS_TOKEN``: when set, ``GET /metrics`` needs ``Authorization: Bearer <token>``."""
    stripe_api_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    stripe_api_url: str = ""
    billing_source: str = ""
    """``RAD_BILLING_SOURCE``: ``csv:<file or folder>`` or ``bigquery:<project.dataset.table>``; empty: costs off."""
    platform_name: str = "RAD"
    """``RAD_PLATFORM_NAME``: the platform's name as invoices print it."""
    bigquery_api_url: str = ""
    """``BIGQUERY_API_URL``: the BigQuery REST base URL (a local emulator in tests); empty: Google's own."""
    public_url: str = ""
    """``RAD_PUBLIC_URL``: the bot's public base URL (Stripe Checkout's return pages); see ``public_base_url``."""

    @property
    def public_base_url(self) -> str:
        """``RAD_PUBLIC_URL``, or ``http://localhost:<PORT>`` when it is unset."""
        return self.public_url or f"http://localhost:{self.port}"

    @property
    def effective_database_url(self) -> str:
        """``DATABASE_URL`` or the embedded SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'rad.db').resolve()}"

    @property
    def embedded_database(self) -> bool:
        """True when no ``DATABASE_URL`` was given and the SQLite default is used."""
        return not self.database_url

    @property
    def slack_oauth(self) -> bool:
        """True when the app installs through OAuth in any workspace (client id, secret and signing secret set)."""
        return bool(self.slack_client_id and self.slack_client_secret and self.slack_signing_secret)

    @property
    def slack_configured(self) -> bool:
        """True when Slack can run: a bot token with an app token or a signing secret, or OAuth (HTTP mode)."""
        return bool(self.slack_bot_token and (self.slack_app_token or self.slack_signing_secret)) or self.slack_oauth

    @property
    def discord_configured(self) -> bool:
        """True when a Discord token is set."""
        return bool(self.discord_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Read the configuration from ``env`` (default: the process environment)."""
        e = os.environ if env is None else env

        def get(name: str, default: str = "") -> str:
            return e.get(name, "").strip() or default

        def listed(name: str) -> tuple[str, ...]:
            return tuple(part.strip() for part in get(name).split(",") if part.strip())

        port = get("PORT", "3000")
        if not port.isdigit():
            raise ValueError(f"PORT must be a number, not {port!r}")
        timeout = get("RAD_DEPLOY_TIMEOUT", "1800")
        if not timeout.isdigit() or int(timeout) < 10:
            raise ValueError(f"RAD_DEPLOY_TIMEOUT must be a number of seconds (at least 10), not {timeout!r}")
        sandbox = get("RAD_SANDBOX", "bwrap").lower()
        if sandbox not in SANDBOX_MODES:
            raise ValueError(f"RAD_SANDBOX must be one of {', '.join(SANDBOX_MODES)}, not {sandbox!r}")
        network = get("RAD_SANDBOX_NETWORK", "on").lower()
        if network not in _SWITCH:
            raise ValueError(f"RAD_SANDBOX_NETWORK must be on or off, not {network!r}")
        log_format = get("RAD_LOG_FORMAT", "text").lower()
        if log_format not in ("text", "json"):
            raise ValueError(f"RAD_LOG_FORMAT must be text or json, not {log_format!r}")
        shards = get("DISCORD_SHARD_COUNT")
        if shards and (not shards.isdigit() or not 1 <= int(shards) <= 1024):
            raise ValueError(f"DISCORD_SHARD_COUNT must be a number of shards from 1 to 1024, not {shards!r}")
        billing = get("RAD_BILLING_SOURCE")
        kind, _, target = billing.partition(":")
        if billing and (kind.strip().lower() not in ("csv", "bigquery") or not target.strip()):
            raise ValueError(f"RAD_BILLING_SOURCE must be csv:<file or folder> or bigquery:<project.dataset.table>, "
                             f"not {billing!r}")
        return cls(
            billing_source=billing,
            bigquery_api_url=get("BIGQUERY_API_URL").rstrip("/"),
            platform_name=get("RAD_PLATFORM_NAME", "RAD")[:80],
            data_dir=Path(get("RAD_DATA_DIR", ".rad")),
            database_url=get("DATABASE_URL"),
            admins=listed("RAD_ADMINS"),
            command=get("RAD_COMMAND", "rad").lstrip("/"),
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_api_url=get("SLACK_API_URL", DEFAULT_SLACK_API_URL),
            slack_client_id=get("SLACK_CLIENT_ID"),
            slack_client_secret=get("SLACK_CLIENT_SECRET"),
            discord_token=get("DISCORD_TOKEN"),
            discord_api_url=get("DISCORD_API_URL", DEFAULT_DISCORD_API_URL).rstrip("/"),
            discord_gateway_url=get("DISCORD_GATEWAY_URL"),
            discord_shard_count=int(shards) if shards else None,
            github_api_url=get("GITHUB_API_URL", DEFAULT_GITHUB_API_URL).rstrip("/"),
            jules_api_url=get("JULES_API_URL", DEFAULT_JULES_API_URL).rstrip("/"),
            secret_keys=listed("RAD_SECRET_KEY"),
            terraform_bin=get("RAD_TERRAFORM_BIN"),
            deploy_timeout=float(timeout),
            port=int(port),
            sandbox=sandbox,
            sandbox_network=_SWITCH[network],
            terraform_env=listed("RAD_TERRAFORM_ENV"),
            metrics_token=get("RAD_METRICS_TOKEN"),
            log_format=log_format,
            stripe_api_key=get("STRIPE_API_KEY"),
            stripe_webhook_secret=get("STRIPE_WEBHOOK_SECRET"),
            stripe_api_url=get("STRIPE_API_URL").rstrip("/"),
            public_url=get("RAD_PUBLIC_URL").rstrip("/"),
        )
