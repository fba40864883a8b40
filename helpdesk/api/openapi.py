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
