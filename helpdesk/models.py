"""Every table, imported in one place so that Alembic and create_app see the whole schema."""

# Importing a room's models module registers its tables on Base.metadata.
from helpdesk.accounts import models as _accounts  # noqa: F401
from helpdesk.chat import models as _chat  # noqa: F401
from helpdesk.crm import models as _crm  # noqa: F401
from helpdesk.db import Base
from helpdesk.jobs import Job  # noqa: F401
from helpdesk.marketing import models as _marketing  # noqa: F401
from helpdesk.orders import models as _orders  # noqa: F401
from helpdesk.payments import models as _payments  # noqa: F401
from helpdesk.reports import rollup_marks as _rollup_marks  # noqa: F401  (its before_flush hook marks stale days)
from helpdesk.reports import rollup_models as _rollups  # noqa: F401
from helpdesk.selfservice import models as _selfservice  # noqa: F401
from helpdesk.tickets import csat_models as _csat  # noqa: F401
from helpdesk.tickets import models as _tickets  # noqa: F401
from helpdesk.tickets import search as _search  # noqa: F401  (its after_flush hook keeps header rows)
from helpdesk.tickets.email import models as _email  # noqa: F401
from helpdesk.tickets.rules import models as _rules  # noqa: F401
from helpdesk.tickets.sla import models as _sla  # noqa: F401
from helpdesk.webhooks import models as _webhooks  # noqa: F401

metadata = Base.metadata
