"""Every table, imported in one place for Alembic and create_app."""

from helpdesk.accounts.models import Agent, ApiToken, AuditEntry
from helpdesk.crm.models import Customer, Identity
from helpdesk.db import Base
from helpdesk.jobs import Job
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import Attachment, CannedReply, Conversation, Inbox, InboxAddress, Message, Tag, Team

metadata = Base.metadata

__all__ = ["Agent", "ApiToken", "Attachment", "AuditEntry", "CannedReply", "Conversation", "CsatSurvey",
           "Customer", "Identity", "Inbox", "InboxAddress", "Job", "Message", "Tag", "Team", "metadata"]
