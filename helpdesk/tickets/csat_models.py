"""CSAT surveys: one per conversation, with who served the customer frozen at sending time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.db import Base, UTCDateTime, public_id, utcnow
from helpdesk.tickets.models import Channel, Conversation, _enum


class CsatSurvey(Base):
    __tablename__ = "csat_surveys"
    __table_args__ = (
        CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="score_range"),
        Index("ix_csat_surveys_sent_at", "sent_at"),
        Index("ix_csat_surveys_score_answered", "score", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: public_id("cs"))
    # One survey per conversation: a retried job or a second resolve never asks twice.
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 unique=True)
    # Frozen at sending time, so that a later reassignment does not move the score.
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    question: Mapped[str] = mapped_column(String(300), default="")
    # Random part of the email link: the link is single use, and a new nonce revokes old links.
    nonce: Mapped[str] = mapped_column(String(32))
    link_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    first_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    conversation: Mapped[Conversation] = relationship()


# Reports read conversations by creation and by resolution time over any range; without these two
# indexes every dashboard load scans the whole table. Declared here, beside the reports' other
# table, so that the conversations model stays as the foundation wrote it.
Index("ix_conversations_created_at", Conversation.__table__.c.created_at)
Index("ix_conversations_resolved_at", Conversation.__table__.c.resolved_at)
