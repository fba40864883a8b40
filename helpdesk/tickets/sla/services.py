"""SLA use cases: calendars and policies (admin), and each conversation's clock.

A conversation gets the first policy (by position) whose match holds. Its due times are
recomputed from facts on every change (created_at, first_response_at, resolved_at, the
waiting-on-the-customer pauses, the customer message awaiting a reply), so a change of priority,
tags, inbox or of the policy itself simply re-runs `apply`. Breaches are recorded once per metric
and due time, by the worker's sweep or at the moment a late reply or resolve happens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from helpdesk import events, jobs
from helpdesk.accounts.models import Role
from helpdesk.accounts.services import audit, require
from helpdesk.actors import Actor
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.tickets.models import Channel, Conversation, Inbox, Priority, Status
from helpdesk.tickets.sla import calendar as cal
from helpdesk.tickets.sla.events import SlaBreached
from helpdesk.tickets.sla.models import BusinessHours, ConversationSla, SlaBreach, SlaPolicy

MAX_TARGET_MINUTES = 365 * 24 * 60
MATCH_KEYS = ("inbox", "channel", "priority", "tags")
REAPPLY_JOB = "sla.reapply"
REAPPLY_BATCH = 500
log = logging.getLogger(__name__)


# -- calendars --------------------------------------------------------------------------------

def _name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 120:
        raise Invalid("name", "1 to 120 characters")
    return name


def calendar_of(hours: BusinessHours | None) -> cal.Calendar | None:
    if hours is None:
        return None
    return cal.parse(hours.timezone, hours.hours, hours.holidays)


def create_business_hours(session: Session, actor: Actor, *, name: Any, timezone: Any, hours: Any,
                          holidays: Any = ()) -> BusinessHours:
    require(actor, Role.admin)
    name = _name(name)
    parsed = cal.parse(timezone, hours, list(holidays or []))
    if session.scalar(select(BusinessHours.id).filter_by(name=name)):
        raise Conflict(f"business hours named {name!r} exist", code="business_hours_exists")
    row = BusinessHours(name=name, timezone=parsed.timezone, hours=cal.hours_dict(parsed),
                        holidays=sorted(d.isoformat() for d in parsed.holidays))
    session.add(row)
    session.flush()
    audit(session, actor, "business_hours.create", "business_hours", row.public_id, name=name,
          timezone=row.timezone, hours=row.hours, holidays=row.holidays)
    return row


def update_business_hours(session: Session, actor: Actor, row: BusinessHours, *, name: Any, timezone: Any,
                          hours: Any, holidays: Any = ()) -> BusinessHours:
    require(actor, Role.admin)
    name = _name(name)
    parsed = cal.parse(timezone, hours, list(holidays or []))
    if session.scalar(select(BusinessHours.id).where(BusinessHours.name == name, BusinessHours.id != row.id)):
        raise Conflict(f"business hours named {name!r} exist", code="business_hours_exists")
    row.name, row.timezone, row.hours = name, parsed.timezone, cal.hours_dict(parsed)
    row.holidays = sorted(d.isoformat() for d in parsed.holidays)
    session.flush()
    audit(session, actor, "business_hours.update", "business_hours", row.public_id, name=name,
          timezone=row.timezone, hours=row.hours, holidays=row.holidays)
    _reapply_later(session)
    return row


def delete_business_hours(session: Session, actor: Actor, row: BusinessHours) -> None:
    require(actor, Role.admin)
    if session.scalar(select(SlaPolicy.id).filter_by(business_hours_id=row.id)):
        raise Conflict("a policy still counts in these business hours", code="business_hours_in_use")
    audit(session, actor, "business_hours.delete", "business_hours", row.public_id, name=row.name)
    session.delete(row)
    session.flush()


def get_business_hours(session: Session, public_id: str) -> BusinessHours:
    row = session.scalar(select(BusinessHours).filter_by(public_id=public_id))
    if row is None:
        raise NotFound("no such business hours")
    return row


def list_business_hours(session: Session) -> list[BusinessHours]:
    return list(session.scalars(select(BusinessHours).order_by(BusinessHours.name)))


# -- policies ---------------------------------------------------------------------------------

def _target(value: Any, field: str, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            raise Invalid(field, "a number of minutes is needed")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid(field, "a whole number of minutes")
    try:
        minutes = int(value)
    except ValueError:
        raise Invalid(field, "a whole number of minutes") from None
    if not 1 <= minutes <= MAX_TARGET_MINUTES:
        raise Invalid(field, f"between 1 and {MAX_TARGET_MINUTES} minutes")
    return minutes


def _match(session: Session, match: Any) -> dict[str, Any]:
    if match is None:
        return {}
    if not isinstance(match, dict):
        raise Invalid("match", "an object with inbox, channel, priority, tags")
    if unknown := sorted(set(match) - set(MATCH_KEYS)):
        raise Invalid("match", f"unknown condition {unknown[0]!r}; use {', '.join(MATCH_KEYS)}")
    out: dict[str, Any] = {}
    if match.get("inbox"):
        if not isinstance(match["inbox"], str) or not session.scalar(
                select(Inbox.id).filter_by(public_id=match["inbox"])):
            raise Invalid("match", "inbox: no such inbox")
        out["inbox"] = match["inbox"]
    if match.get("channel"):
        if match["channel"] not in {c.value for c in Channel}:
            raise Invalid("match", "channel: chat or email")
        out["channel"] = match["channel"]
    if match.get("priority"):
        # One priority or several ("high or urgent").
        values = [match["priority"]] if isinstance(match["priority"], str) else match["priority"]
        if not isinstance(values, list) or any(v not in {p.value for p in Priority} for v in values):
            raise Invalid("match", "priority: low, normal, high or urgent (or a list of them)")
        out["priority"] = sorted(set(values), key=[p.value for p in Priority].index)
    if match.get("tags"):
        tags = match["tags"]
        if not isinstance(tags, list) or any(not isinstance(t, str) or not t.strip() for t in tags):
            raise Invalid("match", "tags: a list of tag names")
        out["tags"] = sorted({t.strip().lower() for t in tags})
    return out


def _policy_fields(session: Session, data: dict[str, Any], policy: SlaPolicy | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if policy is None or "name" in data:
        fields["name"] = _name(data.get("name"))
        clash = select(SlaPolicy.id).where(SlaPolicy.name == fields["name"])
        if policy is not None:
            clash = clash.where(SlaPolicy.id != policy.id)
        if session.scalar(clash):
            raise Conflict(f"a policy named {fields['name']!r} exists", code="sla_policy_exists")
    if "business_hours" in data:
        ref = data["business_hours"]
        if ref in (None, ""):
            fields["business_hours"] = None
        else:
            if not isinstance(ref, str):
                raise Invalid("business_hours", "an id of business hours, or null for 24/7")
            hours = session.scalar(select(BusinessHours).filter_by(public_id=ref))
            if hours is None:
                raise Invalid("business_hours", "no such business hours")
            fields["business_hours"] = hours
    if policy is None or "match" in data:
        fields["match"] = _match(session, data.get("match"))
    if policy is None or "targets" in data:
        targets = data.get("targets")
        if not isinstance(targets, dict):
            raise Invalid("targets", "an object with first_response_minutes (and next_response_minutes, "
                                     "resolution_minutes)")
        if unknown := sorted(set(targets) - {"first_response_minutes", "next_response_minutes",
                                             "resolution_minutes"}):
            raise Invalid("targets", f"unknown target {unknown[0]!r}")
        fields["first_response_minutes"] = _target(targets.get("first_response_minutes"),
                                                   "first_response_minutes", True)
        fields["next_response_minutes"] = _target(targets.get("next_response_minutes"),
                                                  "next_response_minutes", False)
        fields["resolution_minutes"] = _target(targets.get("resolution_minutes"), "resolution_minutes", False)
    calendar_row = fields.get("business_hours", policy.business_hours if policy is not None else None)
    if calendar_row is not None:
        targets_now = targets_of(policy) if policy is not None else {}
        targets_now.update({k: v for k, v in fields.items() if k.endswith("_minutes")})
        _check_reachable(calendar_of(calendar_row), list(targets_now.values()))
    if data.get("position") is not None:
        position = data["position"]
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 100_000:
            raise Invalid("position", "a whole number from 0")
        fields["position"] = position
    return fields


def _check_reachable(calendar: cal.Calendar | None, minutes: list[int | None]) -> None:
    """A target that a sparse calendar cannot reach within the scan bound is refused here, once,
    rather than failing every later message of every conversation under the policy."""
    longest = max((m for m in minutes if m), default=None)
    if calendar is None or longest is None:
        return
    try:
        cal.add(calendar, datetime.now(UTC), timedelta(minutes=longest))
    except Invalid:
        raise Invalid("targets", "these business hours never reach that many minutes") from None


def policy_audit_data(policy: SlaPolicy) -> dict[str, Any]:
    return {"name": policy.name, "position": policy.position, "match": policy.match,
            "business_hours": policy.business_hours.public_id if policy.business_hours else None,
            "targets": targets_of(policy)}


def targets_of(policy: SlaPolicy) -> dict[str, int | None]:
    return {"first_response_minutes": policy.first_response_minutes,
            "next_response_minutes": policy.next_response_minutes,
            "resolution_minutes": policy.resolution_minutes}


def create_policy(session: Session, actor: Actor, data: dict[str, Any]) -> SlaPolicy:
    require(actor, Role.admin)
    fields = _policy_fields(session, data, None)
    if "position" not in fields:
        last = session.scalar(select(func.max(SlaPolicy.position)))
        fields["position"] = 0 if last is None else last + 1
    policy = SlaPolicy(**fields)
    session.add(policy)
    session.flush()
    audit(session, actor, "sla_policy.create", "sla_policy", policy.public_id, **policy_audit_data(policy))
    _reapply_later(session)
    return policy


def update_policy(session: Session, actor: Actor, policy: SlaPolicy, data: dict[str, Any]) -> SlaPolicy:
    require(actor, Role.admin)
    known = {"name", "business_hours", "match", "targets", "position"}
    if unknown := sorted(set(data) - known):
        raise Invalid(unknown[0], f"not a field of a policy; use {', '.join(sorted(known))}")
    before = policy_audit_data(policy)
    for key, value in _policy_fields(session, data, policy).items():
        setattr(policy, key, value)
    session.flush()
    after = policy_audit_data(policy)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        audit(session, actor, "sla_policy.update", "sla_policy", policy.public_id, changes=changes)
        _reapply_later(session)
    return policy


def delete_policy(session: Session, actor: Actor, policy: SlaPolicy) -> None:
    require(actor, Role.admin)
    audit(session, actor, "sla_policy.delete", "sla_policy", policy.public_id, name=policy.name)
    session.delete(policy)
    session.flush()
    _reapply_later(session)


def get_policy(session: Session, public_id: str) -> SlaPolicy:
    policy = session.scalar(select(SlaPolicy).filter_by(public_id=public_id))
    if policy is None:
        raise NotFound("no such SLA policy")
    return policy


def list_policies(session: Session) -> list[SlaPolicy]:
    return list(session.scalars(select(SlaPolicy).options(selectinload(SlaPolicy.business_hours))
                                .order_by(SlaPolicy.position, SlaPolicy.id)))


def _reapply_later(session: Session) -> None:
    # Open conversations follow a changed policy, in the worker: there may be many of them.
    jobs.enqueue(session, REAPPLY_JOB, {}, dedupe_key=REAPPLY_JOB)


# -- a conversation's clock -------------------------------------------------------------------

def matches(policy: SlaPolicy, conversation: Conversation) -> bool:
    match = policy.match or {}
    if match.get("inbox") and conversation.inbox.public_id != match["inbox"]:
        return False
    if match.get("channel") and conversation.channel.value != match["channel"]:
        return False
    if match.get("priority") and conversation.priority.value not in match["priority"]:
        return False
    return not (match.get("tags") and not {t.name for t in conversation.tags} & set(match["tags"]))


def choose_policy(policies: Iterable[SlaPolicy], conversation: Conversation) -> SlaPolicy | None:
    return next((p for p in policies if matches(p, conversation)), None)


def state_of(session: Session, conversation: Conversation) -> ConversationSla | None:
    return session.scalar(select(ConversationSla).filter_by(conversation_id=conversation.id))


def _pauses(state: ConversationSla) -> list[tuple[datetime, datetime]]:
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in state.pauses or []]


def due(calendar: cal.Calendar | None, anchor: datetime, minutes: int,
        pauses: list[tuple[datetime, datetime]]) -> datetime:
    """`minutes` of open time after `anchor`, not counting the pauses (sorted, disjoint)."""
    at = cal.add(calendar, anchor, timedelta(minutes=minutes))
    for start, end in pauses:
        if end <= anchor:
            continue
        start = max(start, anchor)
        if start >= at:
            break
        # The open time spent paused is owed back: shift the due time by it.
        at = cal.add(calendar, at, cal.between(calendar, start, end))
    return at


def _met_at(state: ConversationSla, metric: str) -> datetime | None:
    conversation = state.conversation
    if metric == "first_response":
        return conversation.first_response_at or conversation.resolved_at
    if metric == "resolution":
        return conversation.resolved_at
    return conversation.resolved_at  # next response: an agent reply clears it instead


def _dues(state: ConversationSla) -> dict[str, datetime | None]:
    return {"first_response": state.first_response_due_at, "next_response": state.next_response_due_at,
            "resolution": state.resolution_due_at}


def _breached(state: ConversationSla, metric: str, at: datetime) -> bool:
    return any(b.metric == metric and b.due_at == at for b in state.breaches)


def recompute(state: ConversationSla) -> None:
    conversation, policy = state.conversation, state.policy
    if policy is None:
        state.first_response_due_at = state.next_response_due_at = state.resolution_due_at = None
        state.next_due_at = state.check_at = None
        return
    pauses = _pauses(state)
    try:
        calendar = calendar_of(policy.business_hours)
        state.first_response_due_at = due(calendar, conversation.created_at, policy.first_response_minutes,
                                          pauses)
        state.next_response_due_at = (due(calendar, state.awaiting_since, policy.next_response_minutes, pauses)
                                      if state.awaiting_since and policy.next_response_minutes else None)
        state.resolution_due_at = (due(calendar, conversation.created_at, policy.resolution_minutes, pauses)
                                   if policy.resolution_minutes else None)
    except Invalid:
        # Stored hours that no longer parse or never reach the target: no due times, rather than
        # failing the message or status change that asked for the recompute.
        log.exception("SLA policy %s: due times cannot be computed", policy.public_id)
        state.first_response_due_at = state.next_response_due_at = state.resolution_due_at = None
    unmet = [(metric, at) for metric, at in _dues(state).items()
             if at is not None and _met_at(state, metric) is None]
    state.next_due_at = min((at for _m, at in unmet), default=None)
    state.check_at = min((at for m, at in unmet if not _breached(state, m, at)), default=None)


def record_breaches(session: Session, state: ConversationSla, now: datetime) -> list[str]:
    """Record every due time that passed unmet by `now` (or was met late); returns the metrics."""
    if state.policy is None or state.paused_at is not None:
        return []  # a paused clock's due times are not final until it resumes
    found = []
    for metric, at in _dues(state).items():
        if at is None or _breached(state, metric, at):
            continue
        met = _met_at(state, metric)
        if (met is not None and at < met) or (met is None and at <= now):
            if state.id is None:
                session.flush()
            try:
                with session.begin_nested():  # the sweep and a late reply may record it at once
                    session.add(SlaBreach(sla_id=state.id, metric=metric, due_at=at, policy_id=state.policy_id,
                                          recorded_at=now))
                    session.flush()
            except IntegrityError:
                continue  # recorded by the other one: exactly what was wanted
            finally:
                session.expire(state, ["breaches"])
            events.record(session, SlaBreached(state.conversation_id, state.policy_id, metric, at))
            found.append(metric)
    return found


def apply(session: Session, conversation: Conversation, now: datetime,
          policies: list[SlaPolicy] | None = None) -> ConversationSla | None:
    """(Re)choose the conversation's policy and recompute its due times."""
    policy = choose_policy(policies if policies is not None else list_policies(session), conversation)
    state = state_of(session, conversation)
    if state is None:
        if policy is None:
            return None
        state = ConversationSla(conversation=conversation, pauses=[], breaches=[])
        session.add(state)
        if conversation.status is Status.pending:
            state.paused_at = now
    state.policy = policy
    recompute(state)
    session.flush()
    return state


def pause(state: ConversationSla, now: datetime) -> None:
    if state.paused_at is None:
        state.paused_at = now


def resume(state: ConversationSla, now: datetime) -> None:
    if state.paused_at is not None:
        if now > state.paused_at:
            state.pauses = [*(state.pauses or []), [state.paused_at.isoformat(), now.isoformat()]]
        state.paused_at = None


def on_created(session: Session, conversation: Conversation, now: datetime) -> None:
    apply(session, conversation, now)


def on_message(session: Session, conversation: Conversation, *, author_type: str, at: datetime) -> None:
    state = state_of(session, conversation)
    if state is None or state.policy is None:
        return
    if author_type == "agent":
        record_breaches(session, state, at)  # a late reply is a breach even before the sweep runs
        state.awaiting_since = None
    elif author_type == "customer" and conversation.first_response_at is not None \
            and state.awaiting_since is None:
        state.awaiting_since = at
    recompute(state)
    session.flush()


def on_updated(session: Session, conversation: Conversation, changes: dict[str, Any], now: datetime) -> None:
    state = state_of(session, conversation)
    if "status" in changes and state is not None:
        old, new = changes["status"]
        if old == Status.pending.value:
            resume(state, now)
        if new == Status.pending.value:
            record_breaches(session, state, now)  # what was already late stays late while waiting
            pause(state, now)
    if state is not None or set(changes) & {"priority", "tags", "inbox", "channel"}:
        state = apply(session, conversation, now)
    if state is not None and "status" in changes:
        record_breaches(session, state, now)
        recompute(state)
        session.flush()


def sweep(session: Session, now: datetime, limit: int = 500) -> int:
    """Record the breaches of clocks whose due time has passed; returns how many were found."""
    states = session.scalars(
        select(ConversationSla).options(selectinload(ConversationSla.breaches))
        .where(ConversationSla.check_at <= now, ConversationSla.paused_at.is_(None))
        .order_by(ConversationSla.check_at).limit(limit)).all()
    found = 0
    for state in states:
        found += len(record_breaches(session, state, now))
        recompute(state)
    session.flush()
    return found


def reapply_open(session: Session, now: datetime, after_id: int = 0, limit: int = REAPPLY_BATCH) -> int | None:
    """Re-choose the policy of a batch of unresolved conversations; the last id, None when done."""
    policies = list_policies(session)
    rows = session.scalars(select(Conversation).where(Conversation.id > after_id,
                                                      Conversation.status != Status.resolved)
                           .order_by(Conversation.id).limit(limit)).all()
    for conversation in rows:
        apply(session, conversation, now, policies)
    return rows[-1].id if len(rows) == limit else None


def breached_metrics(state: ConversationSla) -> list[str]:
    seen = {b.metric for b in state.breaches}
    return [m for m in ("first_response", "next_response", "resolution") if m in seen]
