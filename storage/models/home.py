"""Home tabs: the chat identities that opened the bot's Home tab, whose Home is republished when it changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class HomeTab(Base):
    """A chat identity that opened the Home tab (Slack App Home); only these get their Home republished."""

    __tablename__ = "home_tabs"

    identity_id: Mapped[int] = mapped_column(ForeignKey("chat_identities.id", ondelete="CASCADE"),
                                             primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
