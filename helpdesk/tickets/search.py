"""Full-text search over conversations: one index, both engines.

`search_entries` holds the searchable text of a conversation in rows: one per message (kept by
database triggers on `messages`, so bulk writes such as a GDPR erase update it in the same
statement), one "header" row (subject, #REF, customer name and email; refreshed after every flush
that changes them) and one row per thing a higher room adds (orders: the linked order numbers).

SQLite indexes it with an external-content FTS5 table (`search_fts`), PostgreSQL with a GIN index
on a stored `to_tsvector('simple', ...)` column (`search_vector`). Both see the same tokens:
runs of letters and digits, lowercased, so `#1001`, `ann@example.com` and `K7X2QP` find what a
user expects.

What users type is never handed to the engine's query parser: it is reduced to words, quoted
phrases and `-excluded` words, each made of letters and digits only, then rebuilt as a query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from sqlalchemy import ColumnElement, and_, delete, event, func, insert, literal, literal_column, select, text
from sqlalchemy.orm import Session

from helpdesk.crm.models import Customer
from helpdesk.tickets.models import Conversation, SearchEntry

MAX_TERMS = 8
# search_entries.id = conversation_id * SLOTS + slot: the header is slot 0, a message its seq,
# rows of higher rooms count down from SLOTS - 1. Messages past seq MESSAGE_SLOTS (a million
# messages in one conversation) are not indexed.
SHIFT = 20
SLOTS = 1 << SHIFT
MESSAGE_SLOTS = SLOTS - 1024
MAX_TOKEN = 64
HEADER = "c"

_TOKEN = re.compile(r"[^\W_]+")
_PIECE = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}


@dataclass
class Query:
    """A user's search, sanitised: every term is a tuple of tokens (a phrase of one or more)."""

    include: list[tuple[str, ...]] = field(default_factory=list)
    exclude: list[tuple[str, ...]] = field(default_factory=list)
    # One-word terms matched as prefixes: typed with a trailing *, or not in the index whole.
    prefixed: set[tuple[str, ...]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.include)

    @property
    def tokens(self) -> list[str]:
        return [t for term in self.include for t in term]


def parse(q: str | None) -> Query:
    """Words, "quoted phrases" and -excluded words; anything else is punctuation and dropped."""
    query = Query()
    for m in _PIECE.finditer((q or "")[:500]):
        negative = bool(m.group(1) or m.group(3))
        raw = m.group(2) if m.group(2) is not None else m.group(4)
        if m.group(4) is not None and raw in _OPERATORS:
            continue
        tokens = tuple(t.lower()[:MAX_TOKEN] for t in _TOKEN.findall(raw))
        if not tokens:
            continue
        (query.exclude if negative else query.include).append(tokens)
        if not negative and len(tokens) == 1 and m.group(4) is not None and raw.endswith("*"):
            query.prefixed.add(tokens)
        if len(query.include) + len(query.exclude) >= MAX_TERMS:
            break
    return query


# -- the DDL the migration runs (and nothing else: models.py declares the plain table) ------------

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(text, content='search_entries', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER search_entries_au AFTER UPDATE OF text ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END",
    f"CREATE TRIGGER messages_search_ai AFTER INSERT ON messages WHEN new.seq < {MESSAGE_SLOTS} BEGIN "
    "INSERT INTO search_entries(id, conversation_id, message_id, source, text) "
    f"VALUES (new.conversation_id * {SLOTS} + new.seq, new.conversation_id, new.id, 'm', new.body_text); END",
    "CREATE TRIGGER messages_search_au AFTER UPDATE OF body_text ON messages BEGIN "
    "UPDATE search_entries SET text = new.body_text WHERE message_id = new.id; END",
    "CREATE TRIGGER messages_search_ad AFTER DELETE ON messages BEGIN "
    "DELETE FROM search_entries WHERE message_id = old.id; END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS messages_search_ai", "DROP TRIGGER IF EXISTS messages_search_au",
               "DROP TRIGGER IF EXISTS messages_search_ad", "DROP TABLE IF EXISTS search_fts"]

PG_VECTOR = "to_tsvector('simple', regexp_replace(text, '[^[:alnum:]]+', ' ', 'g'))"
# The vector is stored (migration 0024): the GIN index is on the column, so an index probe, its
# recheck and a windowed walk read it instead of running regexp_replace + to_tsvector per entry
# (a bitmap heap scan of a word in 20,000 entries: 450 ms of recomputing at 10,000,000 messages).
# GENERATED ... STORED: PostgreSQL keeps it on every insert and update of text, including the
# triggers' and an erase's bulk UPDATEs; no code writes it. Not in the models (SQLite has none).
PG_COLUMN = "search_vector"
PG_STORED_DDL = [
    "DROP INDEX IF EXISTS ix_search_entries_tsv",  # first: else the table rewrite rebuilds it
    f"ALTER TABLE search_entries ADD COLUMN {PG_COLUMN} tsvector "
    f"GENERATED ALWAYS AS ({PG_VECTOR}) STORED",
    f"CREATE INDEX ix_search_entries_tsv ON search_entries USING gin ({PG_COLUMN})",
]
PG_STORED_DROP = [
    "DROP INDEX IF EXISTS ix_search_entries_tsv",
    f"ALTER TABLE search_entries DROP COLUMN IF EXISTS {PG_COLUMN}",
    f"CREATE INDEX ix_search_entries_tsv ON search_entries USING gin (({PG_VECTOR}))",
]
# What migration 0014 made (0024 then moves the index onto the stored column).
PG_DDL = [
    f"CREATE INDEX ix_search_entries_tsv ON search_entries USING gin (({PG_VECTOR}))",
    "CREATE FUNCTION messages_search() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"IF TG_OP = 'INSERT' THEN IF NEW.seq < {MESSAGE_SLOTS} THEN "
    "INSERT INTO search_entries(id, conversation_id, message_id, source, text) "
    f"VALUES (NEW.conversation_id::bigint * {SLOTS} + NEW.seq, NEW.conversation_id, NEW.id, 'm', NEW.body_text); "
    "END IF; "
    "ELSIF NEW.body_text IS DISTINCT FROM OLD.body_text THEN "
    "UPDATE search_entries SET text = NEW.body_text WHERE message_id = NEW.id; END IF; "
    "RETURN NEW; END $$",
    "CREATE TRIGGER messages_search AFTER INSERT OR UPDATE OF body_text ON messages "
    "FOR EACH ROW EXECUTE FUNCTION messages_search()",
    # Deleting a message removes its row through the foreign key's ON DELETE CASCADE.
]
PG_DROP = ["DROP TRIGGER IF EXISTS messages_search ON messages", "DROP FUNCTION IF EXISTS messages_search()",
           "DROP INDEX IF EXISTS ix_search_entries_tsv"]

# Tables SQLite's FTS5 adds: not in the models on purpose (alembic's drift check skips them).
FTS_TABLES = {"search_fts", "search_fts_data", "search_fts_idx", "search_fts_docsize", "search_fts_config",
              "search_fts_content"}


def install(conn, dialect: str) -> None:  # type: ignore[no-untyped-def]
    for statement in SQLITE_DDL if dialect == "sqlite" else PG_DDL:
        conn.execute(text(statement))


def uninstall(conn, dialect: str) -> None:  # type: ignore[no-untyped-def]
    for statement in SQLITE_DROP if dialect == "sqlite" else PG_DROP:
        conn.execute(text(statement))


# -- writing ---------------------------------------------------------------------------------------

def refresh_headers(session: Session, *, conversation_ids: Sequence[int] = (),
                    customer_ids: Sequence[int] = ()) -> None:
    """Rewrite the header rows of these conversations (or of these customers' conversations)."""
    if not conversation_ids and not customer_ids:
        return
    scope = Conversation.id.in_(list(conversation_ids)) if conversation_ids else \
        Conversation.customer_id.in_(list(customer_ids))
    ids = select(Conversation.id).where(scope)
    session.execute(delete(SearchEntry).where(SearchEntry.source == HEADER, SearchEntry.conversation_id.in_(ids)))
    session.execute(insert(SearchEntry).from_select(
        ["id", "conversation_id", "source", "text"],
        select(Conversation.id * SLOTS, Conversation.id, literal(HEADER), header_text())
        .join(Customer, Customer.id == Conversation.customer_id)
        .where(scope)))


def header_text() -> ColumnElement[str]:
    return (Conversation.subject + literal(" #") + Conversation.ref + literal(" ")
            + func.coalesce(Customer.name, "") + literal(" ") + func.coalesce(Customer.email, ""))


def set_extra(session: Session, conversation_id: int, source: str, value: str | None) -> None:
    """A higher room's text for a conversation (e.g. source "o17", the number of a linked order)."""
    existing = session.scalar(select(SearchEntry).where(SearchEntry.conversation_id == conversation_id,
                                                        SearchEntry.source == source))
    if existing is not None and value:
        existing.text = value
    elif existing is not None:
        session.delete(existing)
    elif value:
        lowest = session.scalar(select(func.min(SearchEntry.id)).where(
            SearchEntry.conversation_id == conversation_id, SearchEntry.id > conversation_id * SLOTS + MESSAGE_SLOTS))
        slot_id = (lowest - 1) if lowest is not None else conversation_id * SLOTS + SLOTS - 1
        if slot_id > conversation_id * SLOTS + MESSAGE_SLOTS:  # else: a thousand extras, enough
            session.add(SearchEntry(id=slot_id, conversation_id=conversation_id, source=source, text=value))
    session.flush()


@event.listens_for(Session, "after_flush")
def _keep_headers(session: Session, _context: object) -> None:
    # Header text changes through the ORM (a new conversation, a new subject, a renamed customer);
    # bulk UPDATEs (merge, erase) call refresh_headers themselves.
    conversations: list[int] = []
    customers: list[int] = []
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Conversation) and obj.id is not None:
            if obj in session.new or _changed(session, obj, ("subject", "ref", "customer_id")):
                conversations.append(obj.id)
        elif (isinstance(obj, Customer) and obj.id is not None and obj not in session.new
              and _changed(session, obj, ("name", "email"))):
            customers.append(obj.id)
    if conversations:
        refresh_headers(session, conversation_ids=conversations)
    if customers:
        refresh_headers(session, customer_ids=customers)


def _changed(session: Session, obj: object, names: tuple[str, ...]) -> bool:
    from sqlalchemy import inspect

    state = inspect(obj)
    return any(state.attrs[n].history.has_changes() for n in names)


# -- reading ---------------------------------------------------------------------------------------

def _sqlite_match(term: tuple[str, ...], prefix: bool) -> str:
    # Each token double-quoted (FTS5 then treats it as a string, never as syntax); a one-word term
    # may match as a prefix (see prepare()).
    phrase = " ".join(f'"{t}"' for t in term)
    return phrase + ("*" if prefix and len(term) == 1 else "")


def _pg_tsquery(term: tuple[str, ...], prefix: bool) -> str:
    parts = [f"'{t}'" for t in term]
    if prefix and len(term) == 1:
        parts[-1] += ":*"
    return " <-> ".join(parts)


def matching_ids(session: Session, term: tuple[str, ...], prefix: bool = True,  # type: ignore[no-untyped-def]
                 floor: int | None = None, ceiling: int | None = None):
    """SELECT conversation_id of the entries that contain the term (within conversation ids
    floor < id <= ceiling when given: a range of the index, not a filter after it)."""
    # Anonymous binds (literal()): one statement holds a subquery per term.
    if session.get_bind().dialect.name == "sqlite":
        # The conversation is in the rowid: FTS5 answers alone, no row of search_entries is read,
        # and a rowid range is a seek into the index's sorted lists.
        query = select(literal_column(f"rowid >> {SHIFT}")).select_from(text("search_fts")).where(
            literal_column("search_fts").op("MATCH")(literal(_sqlite_match(term, prefix))))
        if floor is not None:
            query = query.where(literal_column("rowid") >= literal((floor + 1) * SLOTS))
        if ceiling is not None:
            query = query.where(literal_column("rowid") < literal((ceiling + 1) * SLOTS))
        return query
    tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), literal(_pg_tsquery(term, prefix)))
    query = select(SearchEntry.conversation_id).where(literal_column(f"search_entries.{PG_COLUMN}").op("@@")(tsquery))
    if floor is not None:
        query = query.where(SearchEntry.conversation_id > literal(floor))
    if ceiling is not None:
        query = query.where(SearchEntry.conversation_id <= literal(ceiling))
    return query


def prepare(session: Session, q: str | None) -> Query:
    """The user's search, parsed, each one-word term looked up whole once: a word the index holds
    is matched whole, any other as a prefix ("refu" finds "refund"; "refund*" finds "refunded").

    Why not always a prefix: SQLite's FTS5 answers a prefix by merging the lists of every word
    that starts with it, all of them, before any rowid range or LIMIT applies (200 ms for a
    word in 1,800,000 messages); a whole word is one list it seeks in. Memoised per session (a
    page asks for the rows, the counts and the snippets)."""
    cache = session.info.setdefault("search_prepared", {})
    if q in cache:
        return cache[q]
    if len(cache) > 32:  # a long-lived session (a job) searching many things
        cache.clear()
    query = parse(q)
    for term in query.include:
        if len(term) == 1 and term not in query.prefixed:
            found = session.scalar(select(literal(1)).select_from(
                matching_ids(session, term, prefix=False).limit(1).subquery()))
            if found is None:
                query.prefixed.add(term)
    cache[q] = query
    return query


def condition(session: Session, query: Query, floor: int | None = None) -> ColumnElement[bool]:
    """WHERE clause on Conversation: every included term somewhere in it, no excluded one; with
    a floor, only conversations after it (the newest-first window of a common word)."""
    parts = [Conversation.id.in_(matching_ids(session, term, term in query.prefixed, floor=floor)
                                 .scalar_subquery())
             for term in query.include]
    parts += [Conversation.id.not_in(matching_ids(session, term, prefix=False, floor=floor).scalar_subquery())
              for term in query.exclude]
    if floor is not None:
        parts.append(Conversation.id > floor)
    return and_(*parts)


def like_condition(q: str) -> ColumnElement[bool]:
    """The plain LIKE scan over message bodies and header rows (the bench's baseline)."""
    like = f"%{q.lower()}%"
    return Conversation.id.in_(select(SearchEntry.conversation_id).where(func.lower(SearchEntry.text).like(like)))


SNIPPET = 160
SNIPPET_ENTRIES = 5_000  # entries read for one page's snippets on PostgreSQL


def snippets(session: Session, conversation_ids: Sequence[int], query: Query) -> dict[int, Markup]:
    """For each conversation, the first entry that matches, cut around the match and marked up.

    One statement for the whole page. The text is escaped first and only our own <mark> tags are
    added, so whatever a customer wrote is shown as text.
    """
    if not conversation_ids or not query:
        return {}
    first = query.include[0]
    entries = (select(SearchEntry.conversation_id, SearchEntry.text)
               .where(SearchEntry.conversation_id.in_(list(conversation_ids)))
               .order_by(SearchEntry.conversation_id, SearchEntry.id))
    if session.get_bind().dialect.name == "sqlite":
        # Only the page's range of the index: a common word's matches elsewhere are never read.
        hits = matching_ids(session, first, first in query.prefixed, floor=min(conversation_ids) - 1,
                            ceiling=max(conversation_ids))
        entries = entries.where(SearchEntry.conversation_id.in_(hits.scalar_subquery()))
    else:
        # PostgreSQL would recompute to_tsvector for every entry of the page to filter it: the
        # pattern below reads them faster (the page's entries, a bounded number).
        entries = entries.limit(SNIPPET_ENTRIES)
    rows = session.execute(entries).all()
    pattern = re.compile("|".join(sorted({_token_pattern(t) for t in query.tokens}, key=len, reverse=True)),
                         re.IGNORECASE)
    out: dict[int, Markup] = {}
    for conversation_id, body in rows:
        if conversation_id in out:
            continue
        hit = pattern.search(body or "")
        if hit is None:
            continue
        out[conversation_id] = highlight(body, pattern, hit.start())
    return out


def _token_pattern(token: str) -> str:
    # A token matches at the start of a word, as FTS prefixes do.
    return r"(?<![^\W_])" + re.escape(token) + r"[^\W_]*"


def highlight(body: str, pattern: re.Pattern[str], at: int) -> Markup:
    start = max(0, at - SNIPPET // 3)
    piece = body[start:start + SNIPPET]
    out = Markup("…") if start else Markup("")
    last = 0
    for m in pattern.finditer(piece):
        out += escape(piece[last:m.start()]) + Markup("<mark>") + escape(m.group(0)) + Markup("</mark>")
        last = m.end()
    out += escape(piece[last:])
    if start + SNIPPET < len(body):
        out += Markup("…")
    return out
