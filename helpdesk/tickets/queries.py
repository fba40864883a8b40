"""Read side of the queue: filtered, sorted by last activity, cursor-paged."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal_column, or_, select
from sqlalchemy.orm import Session, selectinload

from helpdesk.accounts.models import Agent
from helpdesk.crm.models import Customer
from helpdesk.db import MAX_INT
from helpdesk.errors import Invalid
from helpdesk.tickets import queue_sorts, search
from helpdesk.tickets.models import Conversation, Inbox, Status
from helpdesk.tickets.sla.models import ConversationSla

MAX_LIMIT = 100
SORTS = ("activity", "due", "newest", "oldest", "waiting", "priority")


@dataclass
class Page:
    items: list[Conversation]
    next_cursor: str | None
    # A search answered from the newest conversations only (ids above this): see WINDOWS.
    search_floor: int | None = None


# A search for a common word (in a fifth of all messages, say) matches hundreds of thousands of
# conversations; sorting or counting them all is linear in the matches. The console looks in the
# newest conversations first (ids after max - window: an index range) and widens while the page
# is not full. SQLite: a rowid range of the FTS5 index. PostgreSQL: the word's GIN matches
# ANDed with the window's range of search_entries' conversation index (a bitmap of both, so a
# word in 20,000 entries reads the ~80 of the window), or, for a common word, a probe of the
# stored vectors of each conversation in the window (~4 µs a conversation: 500 first, so a
# common word, in most of them, costs 2 ms, not 20). No window of 80,000 there: the planner
# cannot tell a #REF (one entry) from a word in thousands and ANDs 880,000 entries of the range
# with it (17 ms for one row). (Before the vector was stored, each probe recomputed to_tsvector
# and PostgreSQL had no windows: a word in 20,000 entries took 0.4-2.5 s.)
WINDOWS = {"sqlite": (5_000, 80_000), "postgresql": (500, 5_000)}
# The tab counts of a common word come from the newest conversations alone and read "at least":
# the first of these windows that holds more than a page of matches.
COUNT_WINDOWS = {"sqlite": (5_000,), "postgresql": (500, 5_000)}


def encode_cursor(conversation: Conversation) -> str:
    raw = json.dumps([conversation.last_activity_at.isoformat(), conversation.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_due_cursor(conversation: Conversation, due: datetime | None) -> str:
    # Past the conversations with a due time, the rest go by latest activity: the cursor then
    # holds that instead.
    raw = json.dumps(["due", due.isoformat(), conversation.id] if due else
                     ["due", None, conversation.last_activity_at.isoformat(), conversation.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_due_cursor(cursor: str) -> tuple[datetime | None, datetime | None, int]:
    """(due, None, id) within the conversations with a due time, (None, activity, id) after them."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, when, *rest = json.loads(raw)
        if kind != "due" or len(rest) != (1 if when else 2):
            raise ValueError(kind)
        if when:
            return datetime.fromisoformat(when), None, int(rest[0])
        return None, datetime.fromisoformat(rest[0]), int(rest[1])
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise Invalid("cursor", "not a cursor this API gave out") from None


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, row_id = json.loads(raw)
        if not 0 <= int(row_id) <= MAX_INT:
            raise ValueError("row id out of range")
        return datetime.fromisoformat(when), int(row_id)
    except (ValueError, TypeError, OverflowError, binascii.Error, json.JSONDecodeError):
        raise Invalid("cursor", "not a cursor this API gave out") from None


def parse_limit(value: str | int | None, default: int = 25) -> int:
    if value in (None, ""):
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise Invalid("limit", "a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("limit", f"between 1 and {MAX_LIMIT}")
    return limit


def list_conversations(session: Session, *, status: str | None = None, inbox: Inbox | None = None,
                       assignee: Agent | None = None, unassigned: bool = False,
                       customer: Customer | None = None, search: str | None = None,
                       limit: int = 25, cursor: str | None = None, sort: str = "activity",
                       newest_first: bool = False) -> Page:
    """`sort="due"`: the SLA's earliest running due time first, conversations without one last.

    newest_first (the console): a search looks in the newest conversations first (WINDOWS)."""
    windows = WINDOWS.get(session.get_bind().dialect.name, ())
    if search and newest_first and sort == "activity" and windows:
        top = session.scalar(select(func.max(Conversation.id))) or 0
        for window in windows:
            if top - window <= 0:
                break
            page = _list(session, status=status, inbox=inbox, assignee=assignee, unassigned=unassigned,
                         customer=customer, search=search, limit=limit, cursor=cursor, sort=sort,
                         floor=top - window)
            if page.next_cursor is not None:
                return page
    # Past the windows (a word too rare in the newest conversations to fill a page): PostgreSQL's
    # planner may still walk the activity index and probe every conversation, fast for a common
    # word and seconds for a rare one (2,000 of 10,000,000 messages); it cannot tell them apart,
    # the newest conversations can (one bounded count).
    unindexed = bool(search and newest_first and sort == "activity"
                     and session.get_bind().dialect.name == "postgresql" and not _common(session, search))
    return _list(session, status=status, inbox=inbox, assignee=assignee, unassigned=unassigned,
                 customer=customer, search=search, limit=limit, cursor=cursor, sort=sort, unindexed=unindexed)


COMMON = 25  # matches among the newest COUNT_WINDOWS[0] conversations that make a word common


def _common(session: Session, q: str) -> bool:
    window = COUNT_WINDOWS.get(session.get_bind().dialect.name, (0,))[0]
    top = session.scalar(select(func.max(Conversation.id))) or 0
    if not window or top <= window:
        return False
    # Newest first on the primary key: a common word stops after a few dozen conversations.
    hits = (select(Conversation.id).where(Conversation.id > top - window, search_condition(session, q))
            .order_by(Conversation.id.desc()).limit(COMMON + 1).subquery())
    return int(session.scalar(select(func.count()).select_from(hits)) or 0) > COMMON


def _list(session: Session, *, status: str | None, inbox: Inbox | None, assignee: Agent | None, unassigned: bool,
          customer: Customer | None, search: str | None, limit: int, cursor: str | None, sort: str,
          floor: int | None = None, unindexed: bool = False) -> Page:
    if sort not in SORTS:
        raise Invalid("sort", f"one of {', '.join(SORTS)}")
    query = select(Conversation).options(
        selectinload(Conversation.customer), selectinload(Conversation.assignee),
        selectinload(Conversation.inbox), selectinload(Conversation.tags))
    tab: Status | None = None
    if status:
        try:
            tab = Status(status)
        except ValueError:
            raise Invalid("status", "one of open, pending, snoozed, resolved") from None
        if sort in queue_sorts.KEYS:  # the due sort and the activity order place it themselves
            query = query.where(Conversation.status == tab)
    if search is not None and len(search) > 500:
        raise Invalid("q", "at most 500 characters")
    if inbox is not None:
        query = query.where(Conversation.inbox_id == inbox.id)
    if assignee is not None:
        query = query.where(Conversation.assignee_id == assignee.id)
    if unassigned:
        query = query.where(Conversation.assignee_id.is_(None))
    if customer is not None:
        query = query.where(Conversation.customer_id == customer.id)
    if search:
        query = query.where(search_condition(session, search, floor))
    # A view or a customer: its own (x, status, last_activity_at) index, status compared as usual.
    narrowed = inbox is not None or assignee is not None or unassigned or customer is not None
    if sort == "due":
        return _by_due(session, query, tab, limit, cursor, narrowed)
    if sort in queue_sorts.KEYS:
        return Page(*queue_sorts.page(session, query, sort, limit, cursor))
    query, first = _in_tab(session, query, tab, narrowed)
    if cursor:
        when, row_id = decode_cursor(cursor)
        query = query.where(or_(Conversation.last_activity_at < when,
                                and_(Conversation.last_activity_at == when, Conversation.id < row_id)))
    # unindexed: sorted on an expression no index has, so the matches come from the full-text
    # index and are sorted (a rare word's few), never found by walking every conversation.
    activity = (Conversation.last_activity_at + literal_column("interval '0 seconds'")) if unindexed \
        else Conversation.last_activity_at
    query = query.order_by(*first, activity.desc(), Conversation.id.desc()).limit(limit + 1)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1]) if more and rows else None, floor)


def _in_tab(session: Session, query: Any, tab: Status | None, narrowed: bool) -> tuple[Any, list[Any]]:
    """The tab's condition for a walk in latest-activity order, and what the ORDER BY starts with.

    PostgreSQL, given `status = 'resolved'`, walks the activity index of every status newest
    first and filters: a shop's live conversations are its newest, so it reads all of them
    (50,000 at 1,000,000 conversations: 14 ms) before the first resolved one; its statistics
    cannot see that correlation. As a range with the status leading the ORDER BY, only the
    (status, last_activity_at) index gives the order: 0.6 ms. SQLite picks that index itself.
    Not for a narrowed query (a view, an inbox): there the equality finds its own index, and a
    range is misestimated (a bitmap of 12,000 unassigned open rows and a sort: 12 ms)."""
    if tab is None:
        return query, []
    if narrowed or session.get_bind().dialect.name != "postgresql":
        return query.where(Conversation.status == tab), []
    return query.where(Conversation.status.between(tab, tab)), [Conversation.status.desc()]


def _by_due(session: Session, query: Any, tab: Status | None, limit: int, cursor: str | None,
            narrowed: bool = False) -> Page:
    # Two index ranges instead of one sort of the whole tab: first the conversations with a due
    # time, walked on conversation_sla's next_due_at index; then the others by latest activity
    # on the tab's usual index. At most two statements a page.
    due = ConversationSla.next_due_at
    when, activity, row_id = decode_due_cursor(cursor) if cursor else (None, None, None)
    rows: list[tuple[Conversation, datetime | None]] = []
    # A resolved conversation's clocks are stopped (resolving meets every target: sla.services
    # _met_at), so the Resolved tab has no due part: it is in latest-activity order, on its index.
    # Walking every live due time to find none cost 53-125 ms at 1,000,000 conversations.
    stopped = tab is Status.resolved
    if activity is None and not stopped:
        timed = (query.join(ConversationSla, ConversationSla.conversation_id == Conversation.id)
                 .where(due.is_not(None)).add_columns(due))
        if tab is not None:
            # Tested through an expression, not the column: else SQLite's planner reads the tab
            # on its status index (950,000 resolved) and sorts, instead of walking the due times.
            timed = timed.where(func.coalesce(Conversation.status, tab) == tab)
        if when is not None:
            timed = timed.where(or_(due > when, and_(due == when, Conversation.id > row_id)))
        rows += [(c, d) for c, d in session.execute(timed.order_by(due, Conversation.id).limit(limit + 1))]
    if len(rows) <= limit:
        query, first = _in_tab(session, query, tab, narrowed)
        rest = query if stopped else query.where(
            ~select(ConversationSla.id).where(ConversationSla.conversation_id == Conversation.id,
                                              due.is_not(None)).exists())
        if activity is not None:
            rest = rest.where(or_(Conversation.last_activity_at < activity,
                                  and_(Conversation.last_activity_at == activity, Conversation.id < row_id)))
        rest = rest.order_by(*first, Conversation.last_activity_at.desc(), Conversation.id.desc())
        rows += [(c, None) for c in session.scalars(rest.limit(limit + 1 - len(rows)))]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([r[0] for r in rows], encode_due_cursor(rows[-1][0], rows[-1][1]) if more and rows else None)


def search_condition(session: Session, q: str, floor: int | None = None) -> ColumnElement[bool]:
    """Full-text match (see search.py); a query with no word in it matches nothing, never errors."""
    parsed = search.prepare(session, q)
    if not parsed:
        return false()
    return search.condition(session, parsed, floor)


# Counts stop here: "10000+" is as useful to an agent as the exact figure and costs a bounded
# index range instead of a scan of every resolved conversation of the shop's history.
COUNT_CAP = 10_000


def _scoped(query: Any, *, assignee: Agent | None, unassigned: bool, inbox: Inbox | None) -> Any:
    if assignee is not None:
        query = query.where(Conversation.assignee_id == assignee.id)
    if unassigned:
        query = query.where(Conversation.assignee_id.is_(None))
    if inbox is not None:
        query = query.where(Conversation.inbox_id == inbox.id)
    return query


def count(session: Session, *, status: str | None = None, assignee: Agent | None = None,
          unassigned: bool = False, inbox: Inbox | None = None, search: str | None = None,
          cap: int = COUNT_CAP) -> int:
    """How many conversations a tab holds, at most cap + 1 (shown as "10000+")."""
    query = _scoped(select(Conversation.id), assignee=assignee, unassigned=unassigned, inbox=inbox)
    if status:
        query = query.where(Conversation.status == Status(status))
    if search:
        query = query.where(search_condition(session, search))
    inner = query.limit(cap + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def status_counts(session: Session, *, assignee: Agent | None = None, unassigned: bool = False,
                  inbox: Inbox | None = None, search: str | None = None) -> dict[str, int]:
    """Per status tab, capped; with a search, the matches per tab."""
    return {s.value: count(session, status=s.value, assignee=assignee, unassigned=unassigned, inbox=inbox,
                           search=search) for s in Status}


@dataclass
class SearchCounts:
    """Matches of one search by status and by view, from one grouped query (one full-text lookup)."""

    rows: list[tuple[str, bool, bool, int]]  # status, unassigned, mine, count
    partial: bool = False  # counted in the newest conversations only: each figure is "at least"

    def tabs(self, view: str) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for status, unassigned, mine, n in self.rows:
            if view == "all" or (view == "mine" and mine) or (view == "unassigned" and unassigned):
                counts[status] += n
        counts["any"] = sum(counts.values())
        return counts

    def views(self, status: str | None) -> dict[str, int]:
        return {view: (self.tabs(view)["any"] if status is None else self.tabs(view)[status])
                for view in ("mine", "unassigned", "all")}


def search_counts(session: Session, q: str, *, me: Agent, inbox: Inbox | None = None,
                  newest_first: bool = False, page_size: int = 25) -> SearchCounts:
    """newest_first (the console): counted in the newest COUNT_WINDOWS conversations first; if
    those alone hold more than a page of matches, the word is common and the counts stay there
    ("at least"); otherwise every match is counted (a rarer word: a short list in the index)."""
    if newest_first:
        top = session.scalar(select(func.max(Conversation.id))) or 0
        for window in COUNT_WINDOWS.get(session.get_bind().dialect.name, ()):
            if top <= window:
                break
            counts = _search_counts(session, q, me=me, inbox=inbox, floor=top - window)
            if sum(n for *_k, n in counts.rows) > page_size:
                return counts
    return _search_counts(session, q, me=me, inbox=inbox)


def _search_counts(session: Session, q: str, *, me: Agent, inbox: Inbox | None,
                   floor: int | None = None) -> SearchCounts:
    unassigned = Conversation.assignee_id.is_(None)
    mine = func.coalesce(Conversation.assignee_id == me.id, False)
    query = (select(Conversation.status, unassigned, mine, func.count())
             .where(search_condition(session, q, floor)).group_by(Conversation.status, unassigned, mine))
    if inbox is not None:
        query = query.where(Conversation.inbox_id == inbox.id)
    return SearchCounts([(Status(s).value, bool(u), bool(m), int(n)) for s, u, m, n in session.execute(query)],
                        partial=floor is not None)


def format_count(n: int, cap: int = COUNT_CAP) -> str:
    return f"{cap}+" if n > cap else str(n)


def format_at_least(n: int, cap: int = COUNT_CAP) -> str:
    """A count of a windowed search: there may be more in older conversations."""
    return f"{min(n, cap)}+"
