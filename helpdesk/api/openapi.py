"""The OpenAPI 3.1 description of /api/v1, kept beside the views it describes."""

from __future__ import annotations

from typing import Any

from helpdesk import __version__


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
                         "channel": {"enum": ["chat", "email"]}, "subject": {"type": "string"},
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
        "body": {"type": "string"}, "private": {"type": "boolean"}, "client_msg_id": {"type": "string"}}},
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
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": _ref("MessageCreate")}}},
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
            "channel": {"enum": ["chat", "email"]}, "status": {"type": "string"},
            "csat": {"type": ["object", "null"]}, "crm_url": {"type": ["string", "null"]}}}},
        "csat": {"type": "object", "properties": {"responses": {"type": "integer"},
                                                  "average": {"type": ["number", "null"]}}},
        "notes": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "body": {"type": "string"}, "author": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"}}}}}},
    "CustomerCreate": {"type": "object", "properties": {
        "email": {"type": "string"}, "name": {"type": "string"}, "phone": {"type": "string"}}},
    "CustomerPatch": {"type": "object", "additionalProperties": False, "properties": {
        "name": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"},
        "attributes": {"type": "object"}, "note": {"type": "string", "description": "adds an agent note"}}},
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


# Orders (helpdesk/api/orders.py).
_MONEY = {"type": ["string", "null"], "description": "decimal amount, two places"}
SCHEMAS["Order"] = {"type": "object", "required": ["id", "number", "name", "status", "currency", "total"],
                    "properties": {
                        "id": {"type": "string"}, "number": {"type": "string"}, "name": {"type": "string"},
                        "platform": {"enum": ["shopify", "woocommerce", "bigcommerce", "magento"]},
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

REPORT_PARAMS = [
    {"name": "from", "in": "query", "schema": {"type": "string"},
     "description": "YYYY-MM-DD (from the start of that day in the report time zone) or an ISO 8601 time;"
                    " default 30 days before to"},
    {"name": "to", "in": "query", "schema": {"type": "string"},
     "description": "YYYY-MM-DD (that day included) or an ISO 8601 time; default today; must be after from"},
    {"name": "agent", "in": "query", "schema": {"type": "string"}},
    {"name": "team", "in": "query", "schema": {"type": "string"}},
    {"name": "inbox", "in": "query", "schema": {"type": "string"}},
    {"name": "channel", "in": "query", "schema": {"enum": ["chat", "email"]}},
    {"name": "tz", "in": "query", "schema": {"type": "string"}, "description": "IANA zone; default setting"},
]
FORBIDDEN = {"403": _json(_ref("Error"), "The token's agent is not a manager")}
PATHS["/reports/summary"] = {"get": {
    "summary": "CSAT, volumes, backlog, response and resolution times of a period (managers)",
    "parameters": [*REPORT_PARAMS, {"name": "group_by", "in": "query",
                                    "schema": {"enum": ["agent", "team", "inbox", "channel", "day"]}}],
    "responses": {"200": _json(_ref("ReportSummary")), **ERRORS, **FORBIDDEN}}}
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
