"""The OpenAPI 3.1 description of /api/v1, kept beside the views it describes."""

from __future__ import annotations

from typing import Any

from helpdesk import __version__
from helpdesk.orders import CONNECTORS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _page(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["data", "next_cursor"],
            "properties": {"data": {"type": "array", "items": _ref(item)},
                           "next_cursor": {"type": ["string", "null"]}}}


ERRORS = {status: {"$ref": f"#/components/responses/{name}"} for status, name in
          [("400", "BadRequest"), ("401", "Unauthorized"), ("404", "NotFound"), ("422", "Invalid")]}

PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
    "Conversation": {"type": "object", "required": ["id", "status", "channel", "subject", "created_at", "last_seq"],
                     "properties": {
                         "id": {"type": "string"}, "ref": {"type": "string"},
                         "status": {"enum": ["open", "pending", "snoozed", "resolved"]},
                         "channel": {"enum": ["chat", "email", "phone"]}, "subject": {"type": "string"},
                         "priority": {"enum": ["low", "normal", "high", "urgent"]},
                         "assignee": {"type": ["object", "null"]}, "team": {"type": ["object", "null"]},
                         "tags": {"type": "array", "items": {"type": "string"}},
                         "inbox": {"type": "object"}, "customer": {"type": "object"},
                         "created_at": {"type": "string", "format": "date-time"},
                         "last_seq": {"type": "integer"}}},
    "ConversationPatch": {"type": "object", "additionalProperties": False, "properties": {
        "status": {"enum": ["open", "pending", "snoozed", "resolved"]},
        "snoozed_until": {"type": "string", "format": "date-time"},
        "assignee": {"type": ["string", "null"], "description": "agent id or email; null unassigns"},
        "team": {"type": ["string", "null"]},
        "priority": {"enum": ["low", "normal", "high", "urgent"]},
        "tags": {"type": "array", "items": {"type": "string"}}}},
    "ConversationCreate": {"type": "object", "required": ["inbox", "customer"], "properties": {
        "inbox": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"},
        "client_msg_id": {"type": "string"},
        "customer": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {
            "email": {"type": "string"}, "name": {"type": "string"}, "phone": {"type": "string"}}}]}}},
    "Message": {"type": "object", "required": ["id", "conversation_id", "seq", "author", "body", "created_at"],
                "properties": {
                    "id": {"type": "string"}, "conversation_id": {"type": "string"}, "seq": {"type": "integer"},
                    "client_msg_id": {"type": ["string", "null"]},
                    "author": {"type": "object", "properties": {
                        "type": {"enum": ["customer", "agent", "system"]}, "name": {"type": "string"}}},
                    "body": {"type": "string"}, "private": {"type": "boolean"},
                    "attachments": {"type": "array", "items": {"type": "object"}},
                    "email": {"type": "object", "description": "mail only: an incoming mail's from/to/cc, "
                                                               "our reply's to/cc/bcc", "properties": {
                        "from": {"type": ["string", "null"]},
                        **{k: {"type": "array", "items": {"type": "string"}} for k in ("to", "cc", "bcc")}}},
                    "created_at": {"type": "string", "format": "date-time"}}},
    "ReportFigures": {"type": "object", "description": "Figures of a period or of one group", "properties": {
        "conversations_created": {"type": "integer"}, "conversations_resolved": {"type": "integer"},
        "backlog": {"type": "integer", "description": "open at the end of the period (or day)"},
        "first_response_median_seconds": {"type": ["number", "null"]},
        "first_response_p90_seconds": {"type": ["number", "null"]}, "first_responses": {"type": "integer"},
        "resolution_median_seconds": {"type": ["number", "null"]},
        "resolution_p90_seconds": {"type": ["number", "null"]},
        "replies_per_conversation": {"type": ["number", "null"]}, "surveys_sent": {"type": "integer"},
        "survey_responses": {"type": "integer"}, "response_rate": {"type": ["number", "null"]},
        "csat": {"type": ["number", "null"], "description": "share of 4-5 among answers, 0 to 1"},
        "average_score": {"type": ["number", "null"]},
        "score_distribution": {"type": "object", "additionalProperties": {"type": "integer"}}}},
    "ReportSummary": {"type": "object", "required": ["from", "to", "totals"], "properties": {
        "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
        "timezone": {"type": "string"},
        "group_by": {"enum": ["agent", "team", "inbox", "channel", "day", None]},
        "totals": {"$ref": "#/components/schemas/ReportFigures"},
        "groups": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/ReportFigures"}, {
            "type": "object", "properties": {"key": {"type": ["string", "null"]},
                                             "label": {"type": "string"}}}]}}}},
    "MessageCreate": {"type": "object", "required": ["body"], "properties": {
        "body": {"type": "string"}, "private": {"type": "boolean"}, "client_msg_id": {"type": "string"},
        **{k: {"type": "array", "items": {"type": "string", "format": "email"}, "maxItems": 50,
               "description": d} for k, d in (
            ("to", "email conversations: the reply's To (default: the customer)"),
            ("cc", "email conversations: Cc, in the mail's headers"),
            ("bcc", "email conversations: Bcc, in the SMTP envelope only, never in the headers"))}}},
    "MessageCreateMultipart": {"type": "object", "required": ["body"], "properties": {
        "body": {"type": "string"}, "private": {"type": "string", "enum": ["true", "false"]},
        "client_msg_id": {"type": "string"},
        "to": {"type": "array", "items": {"type": "string"}}, "cc": {"type": "array", "items": {"type": "string"}},
        "bcc": {"type": "array", "items": {"type": "string"}},
        "files": {"type": "array", "maxItems": 5, "items": {"type": "string", "format": "binary"},
                  "description": "the widget's rules: PNG, JPEG, GIF, WebP, PDF, TXT or CSV by content, "
                                 "each at most HELPDESK_CHAT_MAX_ATTACHMENT_BYTES; sent as MIME attachments "
                                 "by email and shown in the widget for chat"}}},
}

PATHS: dict[str, Any] = {
    "/conversations": {
        "get": {"summary": "List conversations, most recent activity first", "parameters": [
            *PAGING,
            {"name": "status", "in": "query", "schema": {"enum": ["open", "pending", "snoozed", "resolved"]}},
            {"name": "inbox", "in": "query", "schema": {"type": "string"}},
            {"name": "assignee", "in": "query", "schema": {"type": "string"},
             "description": "agent id or email, or `none` for unassigned"},
            {"name": "customer", "in": "query", "schema": {"type": "string"}},
            {"name": "sort", "in": "query",
             "schema": {"enum": ["activity", "due", "newest", "oldest", "waiting", "priority"]},
             "description": "activity (default): most recent first; due: earliest unmet SLA due time first, "
                            "conversations without one last; newest / oldest: by creation; waiting: least "
                            "recent activity first; priority: urgent first, then most recent"},
            {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 500},
             "description": "full-text search over subject, message text, customer name and email, "
                            "#REF and linked order numbers: words (prefix match), \"quoted phrases\", "
                            "-excluded words; other punctuation is ignored"}],
            "responses": {"200": _json(_page("Conversation")), **ERRORS}},
        "post": {"summary": "Open a conversation",
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": _ref("ConversationCreate")}}},
                 "responses": {"201": _json(_ref("Conversation"), "Created"), **ERRORS}},
    },
    "/conversations/{id}": {
        "parameters": [ID],
        "get": {"summary": "One conversation", "responses": {"200": _json(_ref("Conversation")), **ERRORS}},
        "patch": {"summary": "Change status, assignee, team, priority or tags",
                  "requestBody": {"required": True, "content": {"application/json": {
                      "schema": _ref("ConversationPatch")}}},
                  "responses": {"200": _json(_ref("Conversation")), **ERRORS}},
    },
    "/conversations/{id}/messages": {
        "parameters": [ID],
        "get": {"summary": "Messages in seq order", "parameters": PAGING,
                "responses": {"200": _json(_page("Message")), **ERRORS}},
        "post": {"summary": "Post as the token's agent; goes out on the conversation's channel",
                 "description": "On email conversations a public reply takes to/cc/bcc and gets the "
                                "agent's (or the inbox's) signature. A bad address or file is a 422 "
                                "naming the field (code invalid_cc, file_too_big, file_type, ...) and "
                                "nothing is stored or sent.",
                 "requestBody": {"required": True, "content": {
                     "application/json": {"schema": _ref("MessageCreate")},
                     "multipart/form-data": {"schema": _ref("MessageCreateMultipart")}}},
                 "responses": {"201": _json(_ref("Message"), "Created"), **ERRORS}},
    },
}

# -- customers: the 360 view (helpdesk/api/customers.py) -----------------------------------------
_DEAL = {"type": "object", "properties": {k: {"type": ["string", "null"]} for k in
                                          ("id", "name", "amount", "stage", "close_date", "url")}}
SCHEMAS.update({
    "CustomerSummary": {"type": "object", "required": ["id", "display_name"], "properties": {
        "id": {"type": "string"}, "name": {"type": ["string", "null"]}, "display_name": {"type": "string"},
        "email": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"}}},
    "Customer360": {"type": "object",
                    "required": ["id", "identities", "crm", "orders", "conversations", "notes"],
                    "properties": {
        "id": {"type": "string"}, "name": {"type": ["string", "null"]}, "display_name": {"type": "string"},
        "email": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]},
        "attributes": {"type": "object"},
        "identities": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string", "description": "kind:provider:value; give it to /split"},
            "kind": {"enum": ["email", "phone", "visitor", "external"]},
            "provider": {"type": ["string", "null"]},
            "value": {"type": "string"}, "verified": {"type": "boolean"}}}},
        "crm": {"type": "object", "properties": {
            "provider": {"type": ["string", "null"]}, "external_id": {"type": ["string", "null"]},
            "url": {"type": ["string", "null"]}, "company": {"type": ["string", "null"]},
            "lifecycle": {"type": ["string", "null"],
                          "description": "lifecycle stage, lead status or account type"},
            "owner": {"type": ["string", "null"]}, "deals": {"type": "array", "items": _DEAL},
            "open_deal_value": {"type": "string"},
            "records": {"type": "array", "items": {"type": "object"}}}},
        "conflicts": {"type": "array", "items": {"type": "object"},
                      "description": "CRM records two customers claim; settle them by merging"},
        "orders": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "object"}}, "order_count": {"type": "integer"},
            "lifetime_value": {"type": "string"}, "average_order_value": {"type": "string"},
            "currency": {"type": ["string", "null"]}}},
        "conversations": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "ref": {"type": "string"}, "subject": {"type": "string"},
            "channel": {"enum": ["chat", "email", "phone"]}, "status": {"type": "string"},
            "csat": {"type": ["object", "null"]}, "crm_url": {"type": ["string", "null"]}}}},
        "csat": {"type": "object", "properties": {"responses": {"type": "integer"},
                                                  "average": {"type": ["number", "null"]}}},
        "notes": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "body": {"type": "string"}, "author": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"}}}},
        "marketing": {"type": "object", "description": "email marketing consent and its Mailchimp sync",
                      "properties": {
            "consent": {"type": ["boolean", "null"], "description": "null: never asked"},
            "at": {"type": ["string", "null"], "format": "date-time"},
            "source": {"type": ["string", "null"], "enum": ["widget", "console", "api", None]},
            "by": {"type": ["string", "null"], "description": "the agent's name, or customer"},
            "mailchimp": {"type": ["object", "null"], "description": "null when Mailchimp is not configured",
                          "properties": {"state": {"type": ["string", "null"],
                                                   "enum": ["pending", "synced", "failed", None]},
                                         "status": {"type": ["string", "null"]},
                                         "synced_at": {"type": ["string", "null"], "format": "date-time"},
                                         "error": {"type": ["string", "null"]}}}}}}},
    "CustomerCreate": {"type": "object", "properties": {
        "email": {"type": "string"}, "name": {"type": "string"}, "phone": {"type": "string"}}},
    "CustomerPatch": {"type": "object", "additionalProperties": False, "properties": {
        "name": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"},
        "attributes": {"type": "object"}, "note": {"type": "string", "description": "adds an agent note"},
        "marketing_consent": {"type": "boolean", "description": "audited; synced to Mailchimp when configured"},
        "locale": {"enum": ["en", "de", "fr", "es", "it", "nl", "pt", "pl", None],
                   "description": "the language of automatic mails to them (CSAT survey, acknowledgement)"}}},
})
_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
PATHS.update({
    "/customers": {
        "get": {"summary": "Search customers, newest first", "parameters": [
            *PAGING, {"name": "email", "in": "query", "schema": {"type": "string"},
                      "description": "any of the customer's email identities"},
            {"name": "q", "in": "query", "schema": {"type": "string"},
             "description": "name, email, phone or CRM company"}],
            "responses": {"200": _json(_page("CustomerSummary")), **ERRORS}},
        "post": {"summary": "Create (or find, by email) a customer",
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": _ref("CustomerCreate")}}},
                 "responses": {"201": _json(_ref("Customer360"), "Created"), **ERRORS}},
    },
    "/customers/{id}": {
        "parameters": [ID],
        "get": {"summary": "The 360 view: identities, CRM fields, orders, conversations, CSAT, notes",
                "responses": {"200": _json(_ref("Customer360")), **ERRORS}},
        "patch": {"summary": "Edit the profile (a new email or phone becomes an identity) or add a note",
                  "requestBody": {"required": True, "content": {"application/json": {
                      "schema": _ref("CustomerPatch")}}},
                  "responses": {"200": _json(_ref("Customer360")),
                                "409": {"$ref": "#/components/responses/Conflict"},
                                **ERRORS}},
    },
    "/customers/{id}/merge": {
        "parameters": [ID],
        "post": {"summary": "Merge another customer (`source`: id or email) into this one; audited",
                 "requestBody": _BODY, "responses": {"200": _json(_ref("Customer360")), **ERRORS}},
    },
    "/customers/{id}/split": {
        "parameters": [ID],
        "post": {"summary": "Split an identity (`identity`: its key) off into a customer of its own",
                 "requestBody": _BODY, "responses": {"200": _json({"type": "object"}), **ERRORS}},
    },
    "/customers/{id}/export": {
        "parameters": [ID],
        "get": {"summary": "Everything about the customer as one JSON document (right of access)",
                "responses": {"200": _json({"type": "object"}), **ERRORS}},
    },
    "/customers/{id}/erase": {
        "parameters": [ID],
        "post": {"summary": "GDPR erasure (manager role): profile, identities, CRM data, notes, messages",
                 "responses": {"200": _json(_ref("Customer360")),
                               "403": {"$ref": "#/components/responses/Forbidden"},
                               **ERRORS}},
    },
})


# Orders (helpdesk/api/orders.py). The platforms are the registry's: a new one joins the enums.
PLATFORMS = list(CONNECTORS)
_MONEY = {"type": ["string", "null"], "description": "decimal amount, two places"}
SCHEMAS["Order"] = {"type": "object", "required": ["id", "number", "name", "status", "currency", "total"],
                    "properties": {
                        "id": {"type": "string"}, "number": {"type": "string"}, "name": {"type": "string"},
                        "platform": {"enum": PLATFORMS},
                        "shop": {"type": "string"}, "platform_order_id": {"type": "string"},
                        "status": {"enum": ["open", "closed", "cancelled"]},
                        "financial_status": {"type": ["string", "null"]},
                        "fulfillment_status": {"type": ["string", "null"]},
                        "gateway": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]},
                        "customer": {"type": ["object", "null"]}, "currency": {"type": "string"},
                        "total": _MONEY, "subtotal": _MONEY, "shipping_total": _MONEY, "tax_total": _MONEY,
                        "refunded_total": _MONEY,
                        "placed_at": {"type": "string", "format": "date-time"},
                        "updated_at": {"type": "string", "format": "date-time"},
                        "cancelled_at": {"type": ["string", "null"], "format": "date-time"},
                        "cancel_reason": {"type": ["string", "null"]},
                        "payment": {"type": ["object", "null"], "description":
                                    "GET /orders/{id} only: the charge as last fetched from Stripe or PayPal",
                                    "properties": {
                            "provider": {"enum": ["stripe", "paypal"]},
                            "state": {"enum": ["pending", "found", "not_found", "failed"]},
                            "reference": {"type": ["string", "null"]}, "status": {"type": ["string", "null"]},
                            "amount": _MONEY, "captured": _MONEY, "refunded": _MONEY,
                            "currency": {"type": ["string", "null"]}, "method": {"type": ["string", "null"]},
                            "error": {"type": ["string", "null"]},
                            "fetched_at": {"type": ["string", "null"], "format": "date-time"},
                            "refunds": {"type": "array", "items": {"type": "object"}},
                            "disputes": {"type": "array", "items": {"type": "object", "properties": {
                                "id": {"type": "string"}, "provider": {"type": "string"},
                                "status": {"type": "string"}, "amount": _MONEY,
                                "currency": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
                                "evidence_due_by": {"type": ["string", "null"], "format": "date-time"}}}}}},
                        "line_items": {"type": "array", "items": {"type": "object", "properties": {
                            "title": {"type": "string"}, "variant": {"type": ["string", "null"]},
                            "sku": {"type": ["string", "null"]}, "quantity": {"type": "integer"},
                            "price": _MONEY}}},
                        "fulfillments": {"type": "array", "items": {"type": "object", "properties": {
                            "status": {"type": ["string", "null"]}, "carrier": {"type": ["string", "null"]},
                            "tracking_number": {"type": ["string", "null"]},
                            "tracking_url": {"type": ["string", "null"], "format": "uri"},
                            "shipped_at": {"type": ["string", "null"], "format": "date-time"}}}},
                        "refunds": {"type": "array", "items": {"type": "object", "properties": {
                            "amount": _MONEY, "note": {"type": ["string", "null"]},
                            "refunded_at": {"type": ["string", "null"], "format": "date-time"}}}}}}
SCHEMAS["OrderLink"] = {"type": "object", "required": ["order"], "properties": {
    "order": {"type": "string", "description": "the order's id, or its number (e.g. 1001)"}}}
PATHS["/orders"] = {"get": {"summary": "List orders, newest first", "parameters": [
    *PAGING, {"name": "customer", "in": "query", "schema": {"type": "string"}, "description": "customer id"},
    {"name": "number", "in": "query", "schema": {"type": "string"}, "description": "order number, e.g. 1001"}],
    "responses": {"200": _json(_page("Order")), **ERRORS}}}
PATHS["/orders/{id}"] = {"parameters": [ID], "get": {
    "summary": "One order with items, payment, fulfilments and refunds",
    "responses": {"200": _json(_ref("Order")), **ERRORS}}}
PATHS["/conversations/{id}/orders"] = {"parameters": [ID], "post": {
    "summary": "Link an order to the conversation (linking twice is a no-op)",
    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("OrderLink")}}},
    "responses": {"201": _json({"type": "object", "properties": {
        "conversation_id": {"type": "string"}, "state": {"const": "linked"}, "order": _ref("Order")}},
        "Linked"), **ERRORS}}}

# Order actions (helpdesk/orders/actions.py), carried out on the shop by the worker.
ACTION_TYPES = ["refund", "cancel", "reship", "update_address", "resend_confirmation"]
SCHEMAS["OrderActionRequest"] = {"type": "object", "required": ["type"], "properties": {
    "type": {"enum": ACTION_TYPES},
    "amount": {"type": ["string", "number"], "description": "refund: this much (default: everything left, or "
               "the worth of line_items); above the caller's role limit: 403 limit_exceeded"},
    "line_items": {"type": "array", "items": {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string", "description": "an ORDER line item's id"}, "quantity": {"type": "integer"}}}},
    "shipping": {"type": ["boolean", "string", "number"], "description": "refund: true for all the shipping, "
                 "or an amount of it"},
    "restock": {"type": "boolean"}, "refund": {"type": "boolean", "description": "cancel: refund too (default)"},
    "complete": {"type": "boolean", "description": "reship: a completed order instead of a draft"},
    "address": {"type": "object", "description": "update_address: address1, city, zip, country (required), ..."},
    "reason": {"type": "string"}, "notify_customer": {"type": "boolean"},
    "conversation_id": {"type": "string", "description": "note the action on this conversation"}}}
SCHEMAS["OrderAction"] = {"type": "object", "required": ["id", "type", "status"], "properties": {
    "id": {"type": "string"}, "type": {"enum": ACTION_TYPES}, "status": {"enum": ["pending", "done", "failed"]},
    "amount": _MONEY, "currency": {"type": "string"}, "reason": {"type": ["string", "null"]},
    "line_items": {"type": "array", "items": {"type": "object"}}, "restock": {"type": ["boolean", "null"]},
    "refund": {"type": ["boolean", "null"]}, "address": {"type": ["object", "null"]},
    "notify_customer": {"type": "boolean"}, "summary": {"type": ["string", "null"]},
    "error": {"type": ["string", "null"], "description": "failed: the shop's message"},
    "requested_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
    "finished_at": {"type": ["string", "null"], "format": "date-time"}}}
PATHS["/orders/{id}/actions"] = {"parameters": [ID], "post": {
    "summary": "Refund, cancel, reship, change the address or resend the confirmation, on the shop",
    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("OrderActionRequest")}}},
    "responses": {"202": _json(_ref("OrderAction"), "Accepted (a repeat of the key: the first action)"), **ERRORS,
                  "403": _json(_ref("Error"), "limit_exceeded: above the caller's refund limit"),
                  "409": _json(_ref("Error"), "order_cancelled, already_refunded, already_fulfilled, "
                                              "idempotency_key_reused")}},
    "get": {"summary": "The order's actions, newest first", "responses": {"200": _json(_page("OrderAction")),
                                                                         **ERRORS}}}
SCHEMAS["Conversation"]["properties"]["orders"] = {
    "type": "array", "description": "GET /conversations/{id}: linked and suggested orders",
    "items": {"type": "object", "required": ["id", "number", "platform", "state"], "properties": {
        "id": {"type": "string"}, "number": {"type": "string"}, "name": {"type": "string"},
        "platform": {"enum": PLATFORMS}, "state": {"enum": ["linked", "suggested"]}}}}

REPORT_PARAMS = [
    {"name": "from", "in": "query", "schema": {"type": "string"},
     "description": "YYYY-MM-DD (from the start of that day in the report time zone) or an ISO 8601 time;"
                    " default 30 days before to"},
    {"name": "to", "in": "query", "schema": {"type": "string"},
     "description": "YYYY-MM-DD (that day included) or an ISO 8601 time; default today; must be after from"},
    {"name": "agent", "in": "query", "schema": {"type": "string"}},
    {"name": "team", "in": "query", "schema": {"type": "string"}},
    {"name": "inbox", "in": "query", "schema": {"type": "string"}},
    {"name": "channel", "in": "query", "schema": {"enum": ["chat", "email", "phone"]}},
    {"name": "tz", "in": "query", "schema": {"type": "string"}, "description": "IANA zone; default setting"},
]
FORBIDDEN = {"403": _json(_ref("Error"), "The token's agent is not a manager")}
PATHS["/reports/summary"] = {"get": {
    "summary": "CSAT, volumes, backlog, response and resolution times of a period (managers)",
    "parameters": [*REPORT_PARAMS, {"name": "group_by", "in": "query",
                                    "schema": {"enum": ["agent", "team", "inbox", "channel", "day"]}}],
    "responses": {"200": _json(_ref("ReportSummary")), **ERRORS, **FORBIDDEN}}}
_SLA_ROW = {"type": "object", "properties": {
    "key": {"type": ["string", "null"], "description": "agent, team or inbox id, or the priority"},
    "label": {"type": "string"}, "conversations": {"type": "integer"}, "met": {"type": "integer"},
    "breached": {"type": "integer"}, "running": {"type": "integer", "description": "a target still ahead"},
    "met_rate": {"type": ["number", "null"], "description": "met / (met + breached), 0 to 1"}}}
PATHS["/reports/sla"] = {"get": {
    "summary": "Share of SLA targets met, in total and per agent, team, inbox and priority (managers)",
    "parameters": REPORT_PARAMS,
    "responses": {"200": _json({"type": "object", "properties": {
        "totals": _SLA_ROW,
        **{g: {"type": "array", "items": _SLA_ROW} for g in ("agent", "team", "inbox", "priority")}}}),
        **ERRORS, **FORBIDDEN}}}
_DEFLECTION_COUNTS = {k: {"type": "integer"} for k in (
    "handled_without_agent", "order_lookups", "tracking_lookups", "requests_completed", "needed_agent")}
PATHS["/reports/deflection"] = {"get": {
    "summary": "What the widget's self-service settled without an agent, next to conversations that needed one",
    "parameters": REPORT_PARAMS,
    "responses": {"200": _json({"type": "object", "properties": {
        **_DEFLECTION_COUNTS,
        "deflection_rate": {"type": ["number", "null"],
                            "description": "handled_without_agent / (handled_without_agent + needed_agent), 0 to 1"},
        "days": {"type": "array", "items": {"type": "object", "properties": {
            "day": {"type": "string", "format": "date"}, "handled_without_agent": {"type": "integer"},
            "needed_agent": {"type": "integer"}}}}}}),
        **ERRORS, **FORBIDDEN}}}
PATHS["/reports/deflection.csv"] = {"get": {
    "summary": "One CSV row per day: day, handled_without_agent, needed_agent (managers)",
    "parameters": REPORT_PARAMS,
    "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                  **ERRORS, **FORBIDDEN}}}
PATHS["/reports/conversations.csv"] = {"get": {
    "summary": "One CSV row per conversation created in the period (managers); formula-like cells escaped",
    "parameters": REPORT_PARAMS,
    "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                  **ERRORS, **FORBIDDEN}}}

# -- API tokens (helpdesk/api/views.py) ------------------------------------------------------------
SCHEMAS["ApiToken"] = {"type": "object", "required": ["id", "name", "created_at", "last_used_at", "expires_at"],
                       "properties": {
                           "id": {"type": "integer"}, "name": {"type": "string"},
                           "prefix": {"type": "string", "description": "the token's first characters"},
                           "scope": {"enum": ["full", "read"], "description": "read: GET only, else 403"},
                           "created_at": {"type": "string", "format": "date-time"},
                           "last_used_at": {"type": ["string", "null"], "format": "date-time"},
                           "expires_at": {"type": ["string", "null"], "format": "date-time"}}}
PATHS["/tokens"] = {"get": {
    "summary": "The caller's working tokens (revoked and expired ones are left out; secrets never shown)",
    "responses": {"200": _json({"type": "object", "required": ["data"], "properties": {
        "data": {"type": "array", "items": _ref("ApiToken")}}}), **ERRORS}}}
PATHS["/tokens/{id}"] = {"parameters": [ID], "delete": {
    "summary": "Revoke one of the caller's tokens at once: the next request with it gets 401",
    "responses": {"204": {"description": "Revoked"}, **ERRORS}}}

# -- Service levels (helpdesk/api/sla.py) ----------------------------------------------------------
_HHMM = {"type": "string", "pattern": "^([01][0-9]|2[0-4]):[0-5][0-9]$"}
SCHEMAS["BusinessHours"] = {"type": "object", "required": ["name", "timezone", "hours"], "properties": {
    "id": {"type": "string", "readOnly": True}, "name": {"type": "string", "maxLength": 120},
    "timezone": {"type": "string", "description": "IANA time zone, e.g. Europe/Berlin"},
    "hours": {"type": "object", "description": "weekday -> open intervals in local time; a day left out "
              "is closed; 24:00 ends a day; intervals must not overlap",
              "propertyNames": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
              "additionalProperties": {"type": "array", "items": {
                  "type": "array", "items": _HHMM, "minItems": 2, "maxItems": 2}}},
    "holidays": {"type": "array", "items": {"type": "string", "format": "date"},
                 "description": "closed all day"},
    "created_at": {"type": "string", "format": "date-time", "readOnly": True}}}
SCHEMAS["SlaPolicy"] = {"type": "object", "required": ["name", "targets"], "properties": {
    "id": {"type": "string", "readOnly": True}, "name": {"type": "string", "maxLength": 120},
    "position": {"type": "integer", "minimum": 0, "description": "ascending; a new policy goes last unless given"},
    "business_hours": {"type": ["string", "null"], "description": "business hours id; null counts 24/7"},
    "match": {"type": "object", "description": "all given conditions must hold; empty matches every conversation",
              "properties": {"inbox": {"type": "string"}, "channel": {"enum": ["chat", "email", "phone"]},
                             "priority": {"oneOf": [{"enum": ["low", "normal", "high", "urgent"]},
                                                    {"type": "array", "items": {
                                                        "enum": ["low", "normal", "high", "urgent"]}}]},
                             "tags": {"type": "array", "items": {"type": "string"},
                                      "description": "any one of them"}}},
    "targets": {"type": "object", "required": ["first_response_minutes"], "properties": {
        "first_response_minutes": {"type": "integer", "minimum": 1},
        "next_response_minutes": {"type": ["integer", "null"], "minimum": 1},
        "resolution_minutes": {"type": ["integer", "null"], "minimum": 1}}},
    "created_at": {"type": "string", "format": "date-time", "readOnly": True}}}
SCHEMAS["ConversationSla"] = {"type": ["object", "null"], "description": "null without a policy", "properties": {
    "policy": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
    "first_response_due_at": {"type": ["string", "null"], "format": "date-time"},
    "next_response_due_at": {"type": ["string", "null"], "format": "date-time"},
    "resolution_due_at": {"type": ["string", "null"], "format": "date-time"},
    "paused": {"type": "boolean", "description": "pending on the customer: the clock stands still"},
    "breached": {"type": "array", "items": {"enum": ["first_response", "next_response", "resolution"]}}}}
SCHEMAS["Conversation"]["properties"]["sla"] = {**_ref("ConversationSla"),
                                                "description": "on GET and PATCH of one conversation"}
_ADMIN = {"403": _json(_ref("Error"), "The token's agent is not an admin"),
          "409": _json(_ref("Error"), "The name is taken, or the record is in use")}


def _list(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": _ref(item)}}}


def _body(item: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(item)}}}


for _path, _item, _what in (("/business-hours", "BusinessHours", "business hours"),
                            ("/sla-policies", "SlaPolicy", "SLA policies")):
    PATHS[_path] = {
        "get": {"summary": f"List {_what}", "responses": {"200": _json(_list(_item)), **ERRORS}},
        "post": {"summary": f"Create {_what} (admins); bad input is 422 and nothing is stored",
                 "requestBody": _body(_item), "responses": {"201": _json(_ref(_item), "Created"), **ERRORS, **_ADMIN}}}
    PATHS[_path + "/{id}"] = {"parameters": [ID],
        "get": {"summary": f"One of the {_what}", "responses": {"200": _json(_ref(_item)), **ERRORS}},
        "patch": {"summary": "Change the fields given (admins); open conversations follow",
                  "requestBody": _body(_item), "responses": {"200": _json(_ref(_item)), **ERRORS, **_ADMIN}},
        "delete": {"summary": "Delete (admins)", "responses": {"204": {"description": "Deleted"}, **ERRORS, **_ADMIN}}}


# Outside /api/v1 (hence its own server entry): no token, for load balancers (helpdesk/health.py).
PATHS["/healthz"] = {"servers": [{"url": "/", "description": "the site root, not /api/v1"}], "get": {
    "summary": "Health of this node: database, Redis, job backlog; 503 when it cannot serve",
    "security": [],
    "responses": {
        "200": _json({"type": "object", "required": ["ok", "database", "redis", "jobs"], "properties": {
            "ok": {"type": "boolean"}, "database": {"enum": ["ok", "error"]},
            "redis": {"enum": ["ok", "absent", "error"]},
            "jobs": {"type": ["object", "null"], "properties": {
                "due": {"type": "integer"}, "dead": {"type": "integer"},
                "oldest_due_seconds": {"type": "number"}}}}}),
        "503": _json({"type": "object", "properties": {"ok": {"const": False}}},
                     "The database (or a configured Redis) does not answer")}}}


# -- automation rules and macros (helpdesk/api/automation.py) -------------------------------------
_ACTION = {"type": "object", "required": ["type", "value"], "additionalProperties": False, "properties": {
    "type": {"enum": ["add_tag", "remove_tag", "set_priority", "set_status", "assign_team", "assign_agent",
                      "reply", "note", "webhook"]},
    "value": {"type": "string", "description": "tag, priority, status, team id or name, agent id "
              "or email, text (canned-reply placeholders), or an http(s) URL"}}}
_CONDITION = {"type": "object", "required": ["field", "op", "value"], "additionalProperties": False, "properties": {
    "field": {"enum": ["subject", "body", "author", "channel", "inbox", "customer.email", "tags", "priority",
                       "status", "order.total", "idle_hours"]},
    "op": {"enum": ["is", "is_not", "contains", "not_contains", "gt", "lt"]},
    "value": {"type": ["string", "number"]}}}
_EVENT = {"enum": ["conversation.created", "message.created", "conversation.updated", "conversation.idle"]}
SCHEMAS["AutomationRule"] = {"type": "object", "required": ["id", "name", "event", "conditions", "actions", "active",
                                                           "position"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "event": _EVENT,
    "conditions": {"type": "array", "items": _CONDITION}, "actions": {"type": "array", "items": _ACTION},
    "active": {"type": "boolean"}, "position": {"type": "integer", "description": "rules run ascending"},
    "created_at": {"type": "string", "format": "date-time"}}}
SCHEMAS["AutomationRuleWrite"] = {"type": "object", "additionalProperties": False, "properties": {
    "name": {"type": "string"}, "event": _EVENT, "conditions": {"type": "array", "items": _CONDITION},
    "actions": {"type": "array", "items": _ACTION, "minItems": 1}, "active": {"type": "boolean"},
    "position": {"type": "integer", "minimum": 0}}}
SCHEMAS["Macro"] = {"type": "object", "required": ["id", "name", "actions", "shared"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "actions": {"type": "array", "items": _ACTION},
    "shared": {"type": "boolean", "description": "false: only its owner sees it"},
    "created_at": {"type": "string", "format": "date-time"}}}
SCHEMAS["MacroWrite"] = {"type": "object", "additionalProperties": False, "properties": {
    "name": {"type": "string"}, "actions": {"type": "array", "items": _ACTION, "minItems": 1},
    "shared": {"type": "boolean", "description": "shared macros need the manager role"}}}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _list(name: str) -> dict[str, Any]:
    return {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": _ref(name)}}}


_ADMIN = {"403": _json(_ref("Error"), "The token's agent is not an admin")}
PATHS["/automation-rules"] = {
    "get": {"summary": "Every rule, by event and position (admins)", "responses": {
        "200": _json(_list("AutomationRule")), **ERRORS, **_ADMIN}},
    "post": {"summary": "Create a rule (admins); unknown field, operator or action: 422, nothing stored",
             "requestBody": _body("AutomationRuleWrite"),
             "responses": {"201": _json(_ref("AutomationRule"), "Created"), **ERRORS, **_ADMIN}}}
PATHS["/automation-rules/{id}"] = {
    "parameters": [ID],
    "get": {"summary": "One rule", "responses": {"200": _json(_ref("AutomationRule")), **ERRORS, **_ADMIN}},
    "patch": {"summary": "Change a rule; audited", "requestBody": _body("AutomationRuleWrite"),
              "responses": {"200": _json(_ref("AutomationRule")), **ERRORS, **_ADMIN}},
    "delete": {"summary": "Delete a rule; audited", "responses": {"204": {"description": "Deleted"}, **ERRORS,
                                                                   **_ADMIN}}}
PATHS["/automation-rules/dry-run"] = {"post": {
    "summary": "Which of the last `limit` (default 200) conversations a rule would match, and what it would do;"
               " nothing is changed",
    "requestBody": _body("AutomationRuleWrite"),
    "responses": {"200": _json({"type": "object", "properties": {"checked": {"type": "integer"}, "data": {
        "type": "array", "items": {"type": "object", "properties": {
            "conversation": {"type": "object"}, "would": {"type": "array", "items": {"type": "string"}}}}}}}),
        **ERRORS, **_ADMIN}}}
PATHS["/macros"] = {
    "get": {"summary": "Shared macros and the caller's own", "responses": {"200": _json(_list("Macro")), **ERRORS}},
    "post": {"summary": "Create a macro (personal unless shared)", "requestBody": _body("MacroWrite"),
             "responses": {"201": _json(_ref("Macro"), "Created"), **ERRORS}}}
PATHS["/macros/{id}"] = {
    "parameters": [ID],
    "get": {"summary": "One macro", "responses": {"200": _json(_ref("Macro")), **ERRORS}},
    "patch": {"summary": "Change a macro", "requestBody": _body("MacroWrite"),
              "responses": {"200": _json(_ref("Macro")), **ERRORS}},
    "delete": {"summary": "Delete a macro", "responses": {"204": {"description": "Deleted"}, **ERRORS}}}
PATHS["/conversations/{id}/macros/{macro_id}"] = {
    "parameters": [ID, {"name": "macro_id", "in": "path", "required": True, "schema": {"type": "string"}}],
    "post": {"summary": "Apply a macro as the token's agent", "responses": {"200": _json({
        "type": "object", "properties": {"conversation": _ref("Conversation"),
                                         "done": {"type": "array", "items": {"type": "string"}}}}), **ERRORS}}}


# -- outgoing webhooks (helpdesk/api/webhooks.py) -----------------------------------------------------
_WEBHOOK_EVENTS = {"enum": ["conversation.created", "conversation.updated", "message.created", "csat.answered"]}
SCHEMAS["Webhook"] = {"type": "object", "required": ["id", "url", "events", "active"], "properties": {
    "id": {"type": "string"}, "url": {"type": "string", "format": "uri"},
    "events": {"type": "array", "items": _WEBHOOK_EVENTS}, "active": {"type": "boolean"},
    "description": {"type": "string"},
    "secret": {"type": "string", "description": "signs deliveries; in single-webhook answers only"},
    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}}
SCHEMAS["WebhookWrite"] = {"type": "object", "additionalProperties": False, "properties": {
    "url": {"type": "string", "description": "http(s); loopback, private and link-local targets are refused"
            " unless HELPDESK_WEBHOOK_ALLOW_PRIVATE=1"},
    "events": {"type": "array", "items": _WEBHOOK_EVENTS, "minItems": 1},
    "secret": {"type": "string", "minLength": 16, "maxLength": 200, "description": "made for you if left out"},
    "active": {"type": "boolean"}, "description": {"type": "string", "maxLength": 200}}}
SCHEMAS["WebhookDelivery"] = {"type": "object", "required": ["id", "event", "state", "attempts"], "properties": {
    "id": {"type": "string", "description": "the X-Helpdesk-Delivery header, the same on every retry"},
    "event": {"type": "string"}, "state": {"enum": ["pending", "delivered", "dead"]},
    "attempts": {"type": "integer"}, "last_status": {"type": ["integer", "null"]},
    "last_error": {"type": ["string", "null"]}, "created_at": {"type": "string", "format": "date-time"},
    "finished_at": {"type": ["string", "null"], "format": "date-time"},
    "tries": {"type": "array", "items": {"type": "object", "properties": {
        "number": {"type": "integer"}, "status_code": {"type": ["integer", "null"]},
        "duration_ms": {"type": "integer"}, "error": {"type": ["string", "null"]},
        "response_excerpt": {"type": "string", "description": "the first 1 kB of the answer"},
        "at": {"type": "string", "format": "date-time"}}}}}}
PATHS["/webhooks"] = {
    "get": {"summary": "Outgoing webhooks (admins)", "parameters": PAGING,
            "responses": {"200": _json(_page("Webhook")), **ERRORS, **_ADMIN}},
    "post": {"summary": "Subscribe a URL to events (admins); a bad or private URL: 422, nothing stored; audited",
             "requestBody": _body("WebhookWrite"),
             "responses": {"201": _json(_ref("Webhook"), "Created"), **ERRORS, **_ADMIN}}}
PATHS["/webhooks/{id}"] = {
    "parameters": [ID],
    "get": {"summary": "One webhook, with its secret", "responses": {"200": _json(_ref("Webhook")), **ERRORS,
                                                                      **_ADMIN}},
    "patch": {"summary": "Change a webhook; audited", "requestBody": _body("WebhookWrite"),
              "responses": {"200": _json(_ref("Webhook")), **ERRORS, **_ADMIN}},
    "delete": {"summary": "Delete a webhook and its log; audited",
               "responses": {"204": {"description": "Deleted"}, **ERRORS, **_ADMIN}}}
PATHS["/webhooks/{id}/deliveries"] = {
    "parameters": [ID],
    "get": {"summary": "Deliveries, newest first, with every attempt's status and response excerpt",
            "parameters": PAGING, "responses": {"200": _json(_page("WebhookDelivery")), **ERRORS, **_ADMIN}}}


# -- inboxes, teams, agents, tags, canned replies (helpdesk/api/directory.py) -----------------------
_REF = {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}
SCHEMAS["Agent"] = {"type": "object", "required": ["id", "name", "email", "role", "active"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"},
    "role": {"enum": ["agent", "manager", "admin"]}, "active": {"type": "boolean"}}}
SCHEMAS["AgentCreate"] = {"type": "object", "required": ["email", "password"], "additionalProperties": False,
                          "properties": {"email": {"type": "string"}, "name": {"type": "string"},
                                         "role": {"enum": ["agent", "manager", "admin"]},
                                         "password": {"type": "string"}}}
SCHEMAS["AgentPatch"] = {"type": "object", "additionalProperties": False, "properties": {
    "name": {"type": "string"}, "role": {"enum": ["agent", "manager", "admin"]},
    "active": {"type": "boolean", "description": "false ends the agent's sessions and revokes their tokens"}}}
SCHEMAS["Team"] = {"type": "object", "required": ["id", "name", "members"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "members": {"type": "array", "items": _REF},
    "created_at": {"type": "string", "format": "date-time"}}}
SCHEMAS["TeamWrite"] = {"type": "object", "additionalProperties": False, "properties": {
    "name": {"type": "string"}, "members": {"type": "array", "items": {"type": "string"},
                                            "description": "agent ids or emails; replaces the members"}}}
SCHEMAS["Inbox"] = {"type": "object", "required": ["id", "name", "channel"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "channel": {"enum": ["chat", "email", "phone"]},
    "team": {"type": ["object", "null"]}, "addresses": {"type": "array", "items": {"type": "string"}},
    "site_key": {"type": ["string", "null"]}, "auto_assign": {"type": "boolean"},
    "assign_on_reply": {"type": "boolean"}, "max_open_per_agent": {"type": "integer"},
    "settings": {"type": "object"}, "created_at": {"type": "string", "format": "date-time"}}}
SCHEMAS["InboxPatch"] = {"type": "object", "additionalProperties": False, "properties": {
    "name": {"type": "string"}, "assign_on_reply": {"type": "boolean"},
    "settings": {"type": "object", "additionalProperties": False, "description": "chat inboxes only",
                 "properties": {"greeting": {"type": "string"}, "color": {"type": "string"},
                                "prechat": {"type": "boolean"},
                                "allowed_origins": {"type": "array", "items": {"type": "string"}},
                                "consent": {"type": "boolean",
                                            "description": "a marketing consent box in the pre-chat form"},
                                "consent_text": {"type": "string", "description": "its label; empty: the default"},
                                "data_layer": {"type": "boolean",
                                               "description": "push chat events into the shop page's dataLayer"}}}}}
SCHEMAS["Tag"] = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
SCHEMAS["CannedReply"] = {"type": "object", "required": ["id", "shortcut", "title", "body"], "properties": {
    "id": {"type": "string"}, "shortcut": {"type": "string"}, "title": {"type": "string"},
    "body": {"type": "string", "description": "placeholders such as {{ customer.first_name }}"},
    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}}
SCHEMAS["CannedReplyWrite"] = {"type": "object", "additionalProperties": False, "properties": {
    "shortcut": {"type": "string"}, "title": {"type": "string"}, "body": {"type": "string"}}}
_FORBIDDEN = {"403": _json(_ref("Error"), "The token's agent lacks the role")}


def _collection(item: str, what: str, write: str | None = None, who: str = "admins") -> dict[str, Any]:
    paths: dict[str, Any] = {"get": {"summary": f"{what} (any token)", "parameters": PAGING,
                                     "responses": {"200": _json(_page(item)), **ERRORS}}}
    if write:
        paths["post"] = {"summary": f"Create ({who}); audited", "requestBody": _body(write),
                         "responses": {"201": _json(_ref(item), "Created"), **ERRORS, **_FORBIDDEN}}
    return paths


def _member(item: str, patch: str, who: str = "admins", delete: bool = False) -> dict[str, Any]:
    paths: dict[str, Any] = {"parameters": [ID],
                             "get": {"summary": "One", "responses": {"200": _json(_ref(item)), **ERRORS}},
                             "patch": {"summary": f"Change ({who}); audited", "requestBody": _body(patch),
                                       "responses": {"200": _json(_ref(item)), **ERRORS, **_FORBIDDEN}}}
    if delete:
        paths["delete"] = {"summary": f"Delete ({who}); audited",
                           "responses": {"204": {"description": "Deleted"}, **ERRORS, **_FORBIDDEN}}
    return paths


# -- phone calls (helpdesk/api/calls.py) -----------------------------------------------------------
_CALL = {"id": {"type": "string"}, "direction": {"enum": ["inbound", "outbound"]},
         "duration_seconds": {"type": "integer", "minimum": 0, "maximum": 86400},
         "phone": {"type": "string"}, "recording_url": {"type": ["string", "null"], "format": "uri"},
         "agent": {"type": ["object", "null"]}, "created_at": {"type": "string", "format": "date-time"}}
SCHEMAS["Call"] = {"type": "object", "required": ["id", "direction", "duration_seconds", "conversation", "message"],
                   "properties": {**_CALL, "notes": {"type": "string"}, "conversation": _ref("Conversation"),
                                  "message": _ref("Message")}}
SCHEMAS["CallCreate"] = {"type": "object", "required": ["direction", "duration_seconds"], "properties": {
    "conversation_id": {"type": "string", "description": "log into this conversation; else a new phone one"},
    "customer": {"description": "for a new conversation: a customer id, or {email, phone, name} found or made",
                 "oneOf": [{"type": "string"}, {"type": "object", "properties": {
                     "email": {"type": "string"}, "phone": {"type": "string"}, "name": {"type": "string"}}}]},
    "direction": {"enum": ["inbound", "outbound", "in", "out"]},
    "duration_seconds": {"type": ["integer", "string"], "description": "seconds, or \"m:ss\""},
    "notes": {"type": "string"}, "phone": {"type": "string"}, "subject": {"type": "string"},
    "recording_url": {"type": "string", "description": "http or https only"},
    "client_msg_id": {"type": "string", "description": "a retry with the same id logs the call once"}}}
SCHEMAS["Message"]["properties"]["call"] = {"type": "object", "properties": _CALL,
                                            "description": "present on a logged phone call's message"}
PATHS["/calls"] = {"post": {
    "summary": "Log a phone call (agents): into conversation_id, or a new conversation on the phone channel. "
               "The notes are a private message with a call card; nothing is sent to the customer",
    "requestBody": _body("CallCreate"), "responses": {"201": _json(_ref("Call"), "Created"), **ERRORS}}}

PATHS["/inboxes"] = _collection("Inbox", "Inboxes")
PATHS["/inboxes/{id}"] = _member("Inbox", "InboxPatch")
PATHS["/teams"] = _collection("Team", "Teams", "TeamWrite")
PATHS["/teams/{id}"] = _member("Team", "TeamWrite")
PATHS["/agents"] = _collection("Agent", "Agents", "AgentCreate")
PATHS["/agents/{id}"] = _member("Agent", "AgentPatch")
PATHS["/tags"] = _collection("Tag", "Tags in use")
PATHS["/canned-replies"] = _collection("CannedReply", "Canned replies", "CannedReplyWrite", "managers")
PATHS["/canned-replies/{id}"] = _member("CannedReply", "CannedReplyWrite", "managers", delete=True)


def spec() -> dict[str, Any]:
    responses = {name: _json(_ref("Error"), text) for name, text in [
        ("BadRequest", "Malformed request"), ("Unauthorized", "Missing or wrong API token"),
        ("NotFound", "No such resource"), ("Invalid", "A field is invalid"),
        ("Conflict", "Conflicts with another record"), ("Forbidden", "Not allowed for this role")]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Helpdesk API", "version": __version__},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "responses": responses,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }

