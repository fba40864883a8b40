"""Every table, imported in one place for Alembic and create_app."""

from helpdesk.accounts.models import Agent, ApiToken, AuditEntry
from helpdesk.crm.models import (
    CrmContact,
    CrmConversationLink,
    CrmSyncState,
    CrmWebhookDelivery,
    Customer,
    CustomerMerge,
    CustomerNote,
    Identity,
)
from helpdesk.db import Base
from helpdesk.jobs import Job
from helpdesk.orders.models import (  # noqa: F401 - for Alembic
    ConversationOrder,
    Fulfillment,
    Order,
    OrderLineItem,
    Refund,
    SyncState,
    WebhookDelivery,
)
from helpdesk.tickets.email.models import AutoMail, ImapCursor, InboundMail  # noqa: F401
from helpdesk.tickets.models import Attachment, CannedReply, Conversation, Inbox, InboxAddress, Message, Tag, Team

metadata = Base.metadata

__all__ = [
    "Agent", "ApiToken", "Attachment", "AuditEntry", "CannedReply", "Conversation", "CrmContact", "CrmConversationLink",
    "CrmSyncState", "CrmWebhookDelivery", "Customer", "CustomerMerge", "CustomerNote", "Identity", "Inbox",
    "InboxAddress", "Job", "Message", "Tag", "Team", "metadata",
]
