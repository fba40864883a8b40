"""What a rule or a macro may say: its events, condition fields and operators, action types.

One table drives the validation (422 on anything unknown), the evaluation and the console's
builder (it is handed to the page as JSON), so the three never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from helpdesk.errors import Invalid
from helpdesk.i18n import N_
from helpdesk.tickets.models import Priority, Status

EVENTS = ("conversation.created", "message.created", "conversation.updated", "conversation.idle")
MAX_CONDITIONS = 20
MAX_ACTIONS = 20
MAX_TEXT = 5000


@dataclass(frozen=True)
class Field:
    kind: str  # text, choice, tags, number, priority
    ops: tuple[str, ...]
    choices: tuple[str, ...] = ()
    label: str = ""


TEXT_OPS = ("is", "is_not", "contains", "not_contains")
ORDER_OPS = ("is", "is_not", "gt", "lt")
PRIORITIES = tuple(p.value for p in Priority)
STATUSES = tuple(s.value for s in Status)

FIELDS: dict[str, Field] = {
    "subject": Field("text", TEXT_OPS, label=N_("Subject")),
    "body": Field("text", TEXT_OPS, label=N_("Message text")),
    "author": Field("choice", ("is", "is_not"), ("customer", "agent", "system"), N_("Message author")),
    "channel": Field("choice", ("is", "is_not"), ("chat", "email", "phone"), N_("Channel")),
    "inbox": Field("text", ("is", "is_not"), label=N_("Inbox (id or name)")),
    "customer.email": Field("text", TEXT_OPS, label=N_("Customer email")),
    "tags": Field("tags", TEXT_OPS, label=N_("Tags")),
    "priority": Field("priority", ORDER_OPS, PRIORITIES, N_("Priority")),
    "status": Field("choice", ("is", "is_not"), STATUSES, N_("Status")),
    "order.total": Field("number", ORDER_OPS, label=N_("Order total")),
    "idle_hours": Field("number", ORDER_OPS, label=N_("Hours since last activity")),
}

# Action type -> kind of its value.
ACTIONS: dict[str, str] = {
    "add_tag": "tag", "remove_tag": "tag", "set_priority": "priority", "set_status": "status",
    "assign_team": "team", "assign_agent": "agent", "reply": "text", "note": "text", "webhook": "url",
}
ACTION_LABELS = {
    "add_tag": N_("Add tag"), "remove_tag": N_("Remove tag"), "set_priority": N_("Set priority"),
    "set_status": N_("Set status"), "assign_team": N_("Assign to team"), "assign_agent": N_("Assign to agent"),
    "reply": N_("Reply to the customer"),
    "note": N_("Add a private note"), "webhook": N_("POST to a webhook URL"),
}
SETTABLE_STATUSES = ("open", "pending", "resolved")  # snoozing needs a time: not an action


def builder_schema() -> dict[str, Any]:
    """The console builder's vocabulary (rendered into the page as JSON, read by rules.js)."""
    return {"events": list(EVENTS),
            "fields": {name: {"kind": f.kind, "ops": list(f.ops), "choices": list(f.choices), "label": f.label}
                       for name, f in FIELDS.items()},
            "actions": {name: {"kind": kind, "label": ACTION_LABELS[name]} for name, kind in ACTIONS.items()},
            "priorities": list(PRIORITIES), "statuses": list(SETTABLE_STATUSES)}


def clean_conditions(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Invalid("conditions", "a list of {field, op, value}")
    if len(raw) > MAX_CONDITIONS:
        raise Invalid("conditions", f"at most {MAX_CONDITIONS}")
    cleaned = []
    for i, item in enumerate(raw):
        where = f"conditions[{i}]"
        if not isinstance(item, dict) or set(item) - {"field", "op", "value"}:
            raise Invalid(where, "an object with field, op and value")
        name, op, value = item.get("field"), item.get("op"), item.get("value")
        field = FIELDS.get(name) if isinstance(name, str) else None
        if field is None:
            raise Invalid(where, f"unknown field {name!r}; one of {', '.join(FIELDS)}", code="unknown_field")
        if op not in field.ops:
            raise Invalid(where, f"operator {op!r} does not apply to {name}; use {', '.join(field.ops)}",
                          code="unknown_op")
        cleaned.append({"field": name, "op": op, "value": _condition_value(where, field, value)})
    return cleaned


def _condition_value(where: str, field: Field, value: Any) -> Any:
    if field.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(where, "the value must be a number", code="invalid_value")
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise Invalid(where, "the value must be text of 1 to 500 characters", code="invalid_value")
    value = value.strip()
    if field.choices:
        if value.lower() not in field.choices:
            raise Invalid(where, f"the value must be one of {', '.join(field.choices)}", code="invalid_value")
        return value.lower()
    return value.lower() if field.kind == "tags" else value


def clean_actions(raw: Any, *, allow_webhook: bool = True) -> list[dict[str, Any]]:
    """Shape and type of each action; whether a team or an agent exists is the services' check."""
    if not isinstance(raw, list) or not raw:
        raise Invalid("actions", "a list of at least one {type, value}")
    if len(raw) > MAX_ACTIONS:
        raise Invalid("actions", f"at most {MAX_ACTIONS}")
    cleaned = []
    for i, item in enumerate(raw):
        where = f"actions[{i}]"
        if not isinstance(item, dict) or set(item) - {"type", "value"}:
            raise Invalid(where, "an object with type and value")
        kind = ACTIONS.get(item.get("type")) if isinstance(item.get("type"), str) else None
        if kind is None or (kind == "url" and not allow_webhook):
            raise Invalid(where, f"unknown action {item.get('type')!r}; one of {', '.join(ACTIONS)}",
                          code="unknown_action")
        cleaned.append({"type": item["type"], "value": _action_value(where, kind, item.get("value"))})
    return cleaned


def _action_value(where: str, kind: str, value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(where, "the value must be non-empty text", code="invalid_value")
    value = value.strip()
    if kind == "tag":
        if len(value) > 64:
            raise Invalid(where, "a tag is at most 64 characters", code="invalid_value")
        return value.lower()
    if kind == "priority" and value not in PRIORITIES:
        raise Invalid(where, f"one of {', '.join(PRIORITIES)}", code="invalid_value")
    if kind == "status" and value not in SETTABLE_STATUSES:
        raise Invalid(where, f"one of {', '.join(SETTABLE_STATUSES)}", code="invalid_value")
    if kind == "text" and len(value) > MAX_TEXT:
        raise Invalid(where, f"at most {MAX_TEXT} characters", code="invalid_value")
    if kind == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(value) > 2000:
            raise Invalid(where, "an http(s) URL", code="invalid_url")
    return value
