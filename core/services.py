"""The outside services a request may need: the secret box and the GitHub and Jules clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from core.config import Config
from core.secrets import SecretBox, load_keys

if TYPE_CHECKING:  # imported on first use: PyGithub and requests weigh on every process's memory
    from core.jules.client import JulesClient
    from core.payments.client import StripeGateway
    from core.repos.github import GitHubClient


@dataclass
class Services:
    """Built once per process from the configuration; tests pass client options (e.g. fast retries)."""

    config: Config
    github_options: dict[str, Any] = field(default_factory=dict)
    jules_options: dict[str, Any] = field(default_factory=dict)
    stripe_options: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def secrets(self) -> SecretBox:
        """The secret box; the embedded default generates its key file on first use."""
        return SecretBox(load_keys(self.config.secret_keys, self.config.data_dir))

    def github(self) -> GitHubClient:
        """A GitHub client configured for this process."""
        from core.repos.github import GitHubClient

        return GitHubClient.from_config(self.config, **self.github_options)

    def jules(self, api_key: str) -> JulesClient:
        """A Jules client for one API key."""
        from core.jules.client import JulesClient

        return JulesClient.from_config(self.config, api_key, **self.jules_options)

    def stripe(self) -> StripeGateway:
        """The Stripe client (``STRIPE_API_KEY`` at ``STRIPE_API_URL``); PaymentsNotConfigured without a key."""
        from core.payments.client import StripeGateway

        return StripeGateway.from_config(self.config, **self.stripe_options)
