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
            {"name": "customer", "in": "query", "schema": {"type": "string"}}],
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

def spec() -> dict[str, Any]:
    responses = {name: _json(_ref("Error"), text) for name, text in [
        ("BadRequest", "Malformed request"), ("Unauthorized", "Missing or wrong API token"),
        ("NotFound", "No such resource"), ("Invalid", "A field is invalid")]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Helpdesk API", "version": __version__},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "responses": responses,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
