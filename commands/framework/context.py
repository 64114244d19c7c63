"""What a handler receives: the session of its unit of work, the acting user, where it was asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from commands.framework.messenger import Messenger
from commands.framework.registry import Registry
from core import audit
from core.accounts.identity import Caller
from core.accounts.roles import require_any
from core.config import Config
from core.conversations import ConversationRef
from core.services import Services
from storage.db import Database
from storage.models import User


@dataclass
class Context:
    """One request's world. Core services take ``session`` and ``actor`` explicitly from here."""

    session: Session
    actor: User
    caller: Caller
    where: ConversationRef | None
    config: Config
    registry: Registry
    now: datetime
    services: Services
    db: Database
    """For slow handlers only: short units of work of their own around network calls (e.g. a scan)."""

    @property
    def platform(self) -> str:
        """The caller's platform: ``slack``, ``discord`` or ``console``."""
        return self.caller.key.platform

    @property
    def slash(self) -> str:
        """The slash command as users type it, e.g. ``/rad``."""
        return f"/{self.config.command}"

    def audit(self, action: str, *, target: str = "", outcome: str = "ok", **detail: Any) -> None:
        """Record an audit entry by the caller, on this platform, in the handler's unit of work."""
        audit.record(self.session, self.actor, action, target=target, platform=self.platform,
                     outcome=outcome, **detail)

    def require(self, *roles: str, what: str) -> None:
        """Refuse (NotAllowed, naming who may) unless the caller has one of ``roles`` to do ``what``."""
        require_any(self.actor, roles, what)


@dataclass
class JobContext:
    """What a background job receives: its unit of work and the messengers to reach chat."""

    session: Session
    config: Config
    messengers: dict[str, Messenger]
    now: datetime
