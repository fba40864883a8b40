"""Running rules: after the triggering change commits, in the worker, in their stated order.

The change's own transaction only writes a `rules.run` job (an in-transaction listener), so the
socket process never evaluates a rule. The job runs the active rules of that event, ascending by
position. Loops are cut two ways: the job's session carries the chain of rules that already ran
(a rule never runs twice in one chain), and a chain is at most MAX_DEPTH jobs long.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.actors import Actor
from helpdesk.configured import Configured, configured
from helpdesk.db import Base
from helpdesk.errors import DomainError
from helpdesk.runtime import JobContext, Runtime
from helpdesk.tickets import services
from helpdesk.tickets.events import ConversationCreated, ConversationUpdated, MessagePosted
from helpdesk.tickets.models import AuthorType, Conversation, Message, Priority, Status
from helpdesk.tickets.rules import actions as rule_actions
from helpdesk.tickets.rules.models import AutomationRule, RuleRun
from helpdesk.tickets.rules.schema import FIELDS

RUN_JOB = "rules.run"
IDLE_JOB = "rules.idle"
IDLE_EVERY_SECONDS = 300
IDLE_BATCH = 200
MAX_DEPTH = 3
_CHAIN = "helpdesk.rule_chain"
_QUEUED = "helpdesk.rule_jobs_queued"
PRIORITY_RANK = {p.value: i for i, p in enumerate(Priority)}


@dataclass
class Chain:
    depth: int = 0
    ran: set[int] = field(default_factory=set)


def rule_actor(rule: AutomationRule) -> Actor:
    return Actor("system", None, f"Rule '{rule.name}'")


# -- conditions ---------------------------------------------------------------------------------

@dataclass
class Facts:
    """What conditions look at: the conversation, the triggering message, the time."""

    conversation: Conversation
    message: Message | None
    now: datetime
    _order_total: Any = field(default=..., repr=False)

    def value(self, session: Session, name: str) -> Any:
        conv = self.conversation
        if name == "subject":
            return conv.subject or ""
        if name == "body":
            return self.message.body_text if self.message is not None else ""
        if name == "author":
            return self.message.author_type.value if self.message is not None else None
        if name == "channel":
            return conv.channel.value
        if name == "inbox":
            return [conv.inbox.public_id.lower(), conv.inbox.name.lower()]
        if name == "customer.email":
            return conv.customer.email or ""
        if name == "tags":
            return [t.name for t in conv.tags]
        if name == "priority":
            return conv.priority.value
        if name == "status":
            return conv.status.value
        if name == "idle_hours":
            return (self.now - conv.last_activity_at).total_seconds() / 3600
        if name == "order.total":
            if self._order_total is ...:
                self._order_total = _order_total(session, conv.id)
            return self._order_total
        raise KeyError(name)


def _order_total(session: Session, conversation_id: int) -> Any:
    # The orders room sits above this one: its tables are read by name, its module not imported.
    orders, links = Base.metadata.tables.get("orders"), Base.metadata.tables.get("conversation_orders")
    if orders is None or links is None:
        return None
    return session.scalar(select(func.max(orders.c.total)).select_from(
        links.join(orders, links.c.order_id == orders.c.id)).where(
        links.c.conversation_id == conversation_id, links.c.state == "linked"))


def holds(session: Session, condition: dict[str, Any], facts: Facts) -> bool:
    name, op, wanted = condition["field"], condition["op"], condition["value"]
    kind = FIELDS[name].kind
    actual = facts.value(session, name)
    if actual is None:
        return op in ("is_not", "not_contains")
    if kind == "number":
        actual, wanted = Decimal(str(actual)), Decimal(str(wanted))
    elif kind == "priority":
        actual, wanted = PRIORITY_RANK[actual], PRIORITY_RANK[wanted]
    elif name == "inbox":
        return (str(wanted).lower() in actual) == (op == "is")
    elif kind == "tags":
        wanted = str(wanted).lower()
        if op in ("is", "is_not"):
            return (wanted in actual) == (op == "is")
        found = any(wanted in tag for tag in actual)
        return found == (op == "contains")
    else:
        actual, wanted = str(actual).lower(), str(wanted).lower()
    if op == "is":
        return actual == wanted
    if op == "is_not":
        return actual != wanted
    if op == "contains":
        return wanted in actual
    if op == "not_contains":
        return wanted not in actual
    if op == "gt":
        return actual > wanted
    return actual < wanted  # lt


def matches(session: Session, rule_conditions: list[dict[str, Any]], facts: Facts) -> bool:
    return all(holds(session, c, facts) for c in rule_conditions)


def active_rules(session: Session, event: str) -> list[AutomationRule]:
    return list(session.scalars(select(AutomationRule).where(AutomationRule.event == event,
                                                             AutomationRule.active.is_(True))
                                .order_by(AutomationRule.position, AutomationRule.id)))


# -- after a change: write the job in its transaction --------------------------------------------

def has_rules(session: Session, event: str) -> bool:
    return session.scalar(select(AutomationRule.id).where(AutomationRule.event == event,
                                                          AutomationRule.active.is_(True)).limit(1)) is not None


def _queue(session: Session, event: str, conversation_id: int, message_id: int | None = None,
           *, rules: Configured | None = None) -> None:
    chain: Chain = session.info.get(_CHAIN) or Chain()
    if chain.depth >= MAX_DEPTH:
        return
    key = (event, conversation_id, message_id)
    queued: set[Any] = session.info.setdefault(_QUEUED, set())
    if key in queued:
        return  # two updates in one transaction (status and priority of one PATCH): one run
    present = rules.has(session, f"rules:{event}", lambda s: has_rules(s, event)) if rules \
        else has_rules(session, event)
    if not present:
        return
    queued.add(key)
    jobs.enqueue(session, RUN_JOB, {"event": event, "conversation_id": conversation_id, "message_id": message_id,
                                    "depth": chain.depth + 1, "ran": sorted(chain.ran)})


def on_created(session: Session, ev: ConversationCreated, rules: Configured | None = None) -> None:
    _queue(session, "conversation.created", ev.conversation_id, rules=rules)


def on_message(session: Session, ev: MessagePosted, rules: Configured | None = None) -> None:
    if ev.private and ev.author_type == "system":
        return  # event lines (a rule's own record among them) are not messages anyone wrote
    _queue(session, "message.created", ev.conversation_id, ev.message_id, rules=rules)


def on_updated(session: Session, ev: ConversationUpdated, rules: Configured | None = None) -> None:
    _queue(session, "conversation.updated", ev.conversation_id, rules=rules)


# -- in the worker -------------------------------------------------------------------------------

def _facts_message(session: Session, conversation: Conversation, event: str,
                   message_id: int | None) -> Message | None:
    if message_id is not None:
        return session.get(Message, message_id)
    query = select(Message).where(Message.conversation_id == conversation.id, Message.private.is_(False))
    order = Message.seq.asc() if event == "conversation.created" else Message.seq.desc()
    return session.scalar(query.order_by(order).limit(1))


def fire(session: Session, rule: AutomationRule, conversation: Conversation, event: str, now: datetime,
         trigger: str | None = None) -> list[str]:
    """Apply the rule's actions and record them on the conversation as done by the rule."""
    actor = rule_actor(rule)
    signer = conversation.assignee.name if conversation.assignee else conversation.inbox.name
    done: list[str] = []
    failed: list[str] = []
    for action in rule.actions:
        try:
            with session.begin_nested():
                done += rule_actions.apply(session, actor, conversation, [action], signer_name=signer,
                                           message_meta={"rule": rule.public_id}, event=event)
        except DomainError as exc:
            failed.append(f"could not {rule_actions.describe(session, action)}: {exc.message}")
    if done or failed:
        line = f"Rule '{rule.name}' " + "; ".join(done + failed)
        services.post_message(session, actor, conversation, body=line[:2000], private=True,
                              meta={"rule": rule.public_id, "event_line": True})
    session.add(RuleRun(rule_id=rule.id, conversation_id=conversation.id, event=event, done=done + failed,
                        fired_at=now, trigger=trigger))
    return done


def run(session: Session, event: str, conversation: Conversation, message: Message | None, now: datetime,
        chain: Chain, trigger: str | None = None) -> list[tuple[AutomationRule, list[str]]]:
    done_before: set[int] = set()
    if trigger is not None:  # this job ran before and committed: those rules have acted already
        done_before = set(session.scalars(select(RuleRun.rule_id).where(RuleRun.trigger == trigger)))
    fired = []
    for rule in active_rules(session, event):
        if rule.id in chain.ran or rule.id in done_before:
            continue  # this rule's own change (or one it caused) brought us here: no loop
        if matches(session, rule.conditions, Facts(conversation, message, now)):
            chain.ran.add(rule.id)
            fired.append((rule, fire(session, rule, conversation, event, now, trigger)))
    return fired


def run_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    with ctx.db.unit_of_work() as session:
        conversation = session.get(Conversation, payload["conversation_id"])
        if conversation is None:
            return
        chain = Chain(depth=int(payload.get("depth") or 1), ran=set(payload.get("ran") or []))
        # Read by the listeners above when this transaction commits the rules' own changes.
        session.info[_CHAIN] = chain
        message = _facts_message(session, conversation, payload["event"], payload.get("message_id"))
        trigger = f"job:{ctx.job.id}" if ctx.job.id else None
        run(session, payload["event"], conversation, message, ctx.now(), chain, trigger)


def _idle_threshold(rule: AutomationRule) -> float:
    hours = [float(c["value"]) for c in rule.conditions if c["field"] == "idle_hours" and c["op"] in ("gt", "is")]
    return max(hours) if hours else 0.0


def idle_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Fire `conversation.idle` rules on conversations quiet for their idle_hours, once per quiet spell."""
    now = ctx.now()
    with ctx.db.unit_of_work() as session:
        session.info[_CHAIN] = Chain(depth=1)
        for rule in active_rules(session, "conversation.idle"):
            statuses = [c["value"] for c in rule.conditions if c["field"] == "status" and c["op"] == "is"]
            fired_since = exists().where(RuleRun.rule_id == rule.id, RuleRun.conversation_id == Conversation.id,
                                         RuleRun.fired_at >= Conversation.last_activity_at)
            query = select(Conversation).where(
                Conversation.last_activity_at <= now - timedelta(hours=_idle_threshold(rule)), ~fired_since)
            query = query.where(Conversation.status.in_(statuses) if statuses else
                                Conversation.status != Status.resolved)
            for conversation in session.scalars(query.order_by(Conversation.last_activity_at).limit(IDLE_BATCH)):
                if matches(session, rule.conditions, Facts(conversation, None, now)):
                    session.info[_CHAIN].ran = {rule.id}
                    fire(session, rule, conversation, "conversation.idle", now)


# -- dry run: what a rule would do, changing nothing ----------------------------------------------

def dry_run(session: Session, event: str, conditions: list[dict[str, Any]], actions: list[dict[str, Any]],
            now: datetime, limit: int = 200) -> list[tuple[Conversation, list[str]]]:
    """The recent conversations the rule would match, and the actions it would take on each."""
    described = [rule_actions.describe(session, a) for a in actions]
    hits = []
    conversations = session.scalars(select(Conversation).order_by(Conversation.created_at.desc(),
                                                                  Conversation.id.desc()).limit(limit))
    for conversation in conversations:
        message = None if event == "conversation.idle" else _facts_message(session, conversation, event, None)
        if message is not None and message.author_type is AuthorType.system:
            message = None
        if matches(session, conditions, Facts(conversation, message, now)):
            hits.append((conversation, described))
    return hits


def init_app(runtime: Runtime) -> None:
    rules = configured(runtime)
    rules.watch(runtime.db.sessions, AutomationRule)
    runtime.events.subscribe_in_transaction(ConversationCreated, lambda s, ev: on_created(s, ev, rules))
    runtime.events.subscribe_in_transaction(MessagePosted, lambda s, ev: on_message(s, ev, rules))
    runtime.events.subscribe_in_transaction(ConversationUpdated, lambda s, ev: on_updated(s, ev, rules))
    runtime.jobs.register(RUN_JOB, run_job)
    runtime.jobs.periodic(IDLE_JOB, IDLE_EVERY_SECONDS, idle_job)
    from helpdesk.tickets.rules import webhook

    runtime.jobs.register(webhook.JOB, webhook.post_job)


__all__ = ["dry_run", "init_app", "run", "run_job"]
