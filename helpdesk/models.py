"""Every table, imported in one place for Alembic and create_app."""

from helpdesk.accounts.models import Agent, ApiToken, AuditEntry
from helpdesk.chat.models import ChatUpload, ChatVisitor
from helpdesk.crm.models import Customer, Identity
from helpdesk.db import Base
from helpdesk.jobs import Job
from helpdesk.tickets.models import Attachment, Conversation, Inbox, InboxAddress, Message, Tag, Team

metadata = Base.metadata

__all__ = ["Agent", "ApiToken", "Attachment", "AuditEntry", "ChatUpload", "ChatVisitor", "Conversation",
           "Customer", "Identity", "Inbox", "InboxAddress", "Job", "Message", "Tag", "Team", "metadata"]
