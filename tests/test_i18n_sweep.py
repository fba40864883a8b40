"""Issue 15 part 7, the sweep: no English left on a German console. The console scripts' one
catalogue (helpdesk/i18n/js.py, read by static/i18n.js) has every key a script asks for, with a
text per plural category of the language; the pages a German agent sees (queue with SLA badges and
waits, a conversation with its SLA card and a failed email reply, audit log, jobs, service levels,
team, tokens, reports) carry German where the screenshots showed English."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk import db_of, i18n
from helpdesk.accounts import audit_view
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, agent_actor
from helpdesk.i18n import js
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Delivery, Message
from helpdesk.tickets.sla import services as sla
from tests.conftest import ROOT
from tests.factories import make_conversation, make_inbox

STATIC = ROOT / "helpdesk" / "static"
# The console's scripts (the widget has its own JSON catalogues, tests/test_i18n.py).
SCRIPTS = sorted(p for p in STATIC.glob("*.js") if p.name != "i18n.js")  # i18n.js: the lookups themselves
CALL = re.compile(r"\b(tn?)\(([^,{)]*)")  # t(key, ...), t(cond ? "a" : "b", ...)
KEY = re.compile(r"(?:^|[?:])\s*\"([\w.]+)\"")  # the key, or both keys of a ternary (not what it compares)
GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


def _asked(path: Path) -> set[tuple[str, str]]:
    return {(kind, key) for kind, args in CALL.findall(path.read_text(encoding="utf-8")) for key in KEY.findall(args)}


def test_every_string_a_console_script_asks_for_is_in_the_catalogue() -> None:
    asked = {call for path in SCRIPTS for call in _asked(path)}
    assert len(asked) > 60  # the regex still finds the calls
    for kind, key in sorted(asked):
        table = js.PLURALS if kind == "tn" else js.STRINGS
        assert key in table, f"{kind}({key!r}) is not in helpdesk/i18n/js.py"
    # ... and nothing in the catalogue that no script uses (a dead msgid for translators).
    assert {key for kind, key in asked if kind == "t"} == set(js.STRINGS)
    assert {key for kind, key in asked if kind == "tn"} == set(js.PLURALS)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_no_console_script_writes_english_words_itself(path: Path) -> None:
    """Text set from a literal ("Select", "5 min") would bypass the catalogue."""
    source = path.read_text(encoding="utf-8")
    written = re.findall(r"(?:textContent|title|label)\s*[:=]\s*\"([^\"]*[A-Za-z]{3}[^\"]*)\"", source)
    assert written == [], written
    assert "navigator.language ||" not in source.replace("document.documentElement.lang || navigator.language ||", "")
    assert "(undefined," not in source  # Intl/toLocale* with the page's language, not the browser's


def test_plural_messages_come_in_every_category_of_the_language(app: Flask) -> None:
    assert js.plural_samples("en") == {"other": 0, "one": 1}
    assert js.plural_samples("pl") == {"many": 0, "one": 1, "few": 2}  # "other" is for fractions
    with app.test_request_context(headers={"Accept-Language": "pl"}):
        polish = js.catalogue("pl")
    assert polish["bulk.selected"] == {"many": "%(count)s zaznaczonych", "one": "%(count)s zaznaczona",
                                       "few": "%(count)s zaznaczone"}
    assert polish["label.open"] == "otwarta"
    with app.test_request_context(headers=GERMAN):
        german = js.catalogue("de")
    assert german["bulk.selected"] == {"other": "%(count)s ausgewählt", "one": "%(count)s ausgewählt"}
    assert german["bulk.select"] == "Auswählen" and german["sla.due_in"] == "fällig in %(time)s"
    assert german["label.pending"] == "wartend" and german["label.sent"] == "gesendet"


def test_durations_and_dates_follow_the_locale() -> None:
    assert i18n.format_span(5 * 86400 + 16 * 3600, "en") == "5d 16h"  # as the badge always read
    assert i18n.format_span(2 * 3600 + 5 * 60, "de") == "2h 5 Min."
    assert i18n.format_span(7 * 60, "fr") == "7min"
    assert i18n.format_units([(3, "hour")], "de", "short") == "3 Std."
    from datetime import UTC, datetime

    moment = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    assert i18n.format_moment(moment, "en") == "Thu, Dec 3, 2026, 09:30"
    assert i18n.format_moment(moment, "de") == "Do., 3. Dez. 2026, 09:30"


def test_audit_words_are_whole_phrases_in_the_language() -> None:
    german = i18n.translations("de").gettext
    assert audit_view.words("inbox.delete", german) == "Posteingang gelöscht"
    assert audit_view.words("conversation.update", german) == "Konversation geändert"
    assert audit_view.details({"changes": {"status": ["open", "resolved"], "subject": ["open", "x"]}}, german,
                              lambda v: {"open": "offen", "resolved": "erledigt"}.get(v, v)) == [
        "Status: offen → erledigt", "Betreff: open → x"]


def _page(client: FlaskClient, url: str) -> str:
    response = client.get(url, headers=GERMAN)
    assert response.status_code == 200, url
    html = response.get_data(as_text=True)
    assert '<html lang="de">' in html
    return html


def _text(html: str) -> str:
    """What a reader sees (and hears: titles and labels) of a page, without its scripts' JSON."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    attrs = " ".join(re.findall(r'(?:title|aria-label)="([^"]*)"', html))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)) + " " + attrs


def test_a_german_console_shows_no_english_words_the_screenshots_found(
        app: Flask, client: FlaskClient, admin: Agent) -> None:
    chat, _ = make_inbox(app)
    mail, _ = make_inbox(app, "Support mail", "email", "support@shop.example")
    with db_of(app).unit_of_work() as s:
        sla.create_policy(s, SYSTEM, {"name": "Standard", "targets": {"first_response_minutes": 90,
                                                                       "resolution_minutes": 600}})
    waiting = make_conversation(app, chat, email="ann@example.com", name="Ann")
    fresh = make_conversation(app, chat, email="cem@example.com", name="Cem")
    failed = make_conversation(app, mail, email="bob@example.com", name="Bob", subject="Rechnung")
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, waiting.id)
        c.created_at -= timedelta(hours=3)
        for m in c.messages:
            m.created_at -= timedelta(hours=3)
        sla.apply(s, c, c.created_at)
        conv = s.get(Conversation, failed.id)
        tickets.post_message(s, agent_actor(s.get(Agent, admin.id)), conv, body="Hier ist sie.")
        tickets.set_status(s, SYSTEM, conv, "pending")
    with db_of(app).unit_of_work() as s:
        reply = s.query(Message).filter_by(conversation_id=failed.id, body_text="Hier ist sie.").one()
        reply.delivery, reply.delivery_error = Delivery.failed, "550 mailbox unavailable"
    from tests.conftest import login

    assert login(client, admin.email).status_code == 302

    queue = _text(_page(client, "/console?view=all"))
    assert ("überfällig seit" in queue and "fällig in 1h 29 Min." in queue) or "fällig in 1h 30 Min." in queue
    assert "wartet 3 Std." in queue and "Auswählen" in queue and fresh.public_id
    for english in ("overdue", "due in", "waiting", " min", " h ", "Select "):
        assert english not in queue, english
    strings = json.loads(re.search(r'id="console-strings">(.*?)</script>', _page(client, "/console"), re.S).group(1))
    assert strings["bulk.selected"]["one"] == "%(count)s ausgewählt" and strings["label.open"] == "offen"

    page = _text(_page(client, f"/console/c/{waiting.public_id}"))
    assert "Erste Antwort:" in page and "Lösung:" in page and "fällig" in page
    for english in ("First response", "Resolution:", "due in", "overdue"):
        assert english not in page, english
    mail_page = _page(client, f"/console/c/{failed.public_id}")
    assert ">gesendet<" not in mail_page and ">fehlgeschlagen<" in mail_page and ">failed<" not in mail_page

    audit = _text(_page(client, "/admin/audit"))
    assert "Posteingang erstellt" in audit and "Konversation geändert" in audit
    for english in ("created inbox", "updated conversation", "status: ", "pending"):
        assert english not in audit, english

    jobs = _text(_page(client, "/admin/jobs"))
    assert "wartend" in jobs and "erledigt" in jobs
    for english in (" queued ", " running ", " done ", " dead "):
        assert english not in jobs, english

    levels = _text(_page(client, "/admin/service-levels"))
    assert "Montag" in levels and "Sonntag" in levels and "Montag öffnet 1" in levels and "dringend" in levels
    for english in ("Monday", "Sunday", " open 1", " urgent "):
        assert english not in levels, english

    team = _text(_page(client, "/console/team"))
    assert "Team" in team and "never" not in team
    agents = _page(client, "/admin/agents")
    assert ">Agent</option>" in agents and ">agent</option>" not in agents
    rules = _page(client, "/admin/rules")
    schema = json.loads(html.unescape(re.search(r'data-schema="([^"]*)"', rules).group(1)))
    assert schema["actions"]["add_tag"]["label"] == "Schlagwort hinzufügen"
    assert schema["fields"]["body"]["label"] == "Nachrichtentext"


def test_the_german_reports_word_the_rows_without_an_agent_or_team(app: Flask, client: FlaskClient,
                                                                    manager: Agent) -> None:
    inbox, _ = make_inbox(app)
    make_conversation(app, inbox, email="ann@example.com")
    from tests.conftest import login

    assert login(client, manager.email).status_code == 302
    page = _text(_page(client, "/reports"))
    assert "Nicht zugewiesen" in page and "Unassigned" not in page
    # The list's heading and its switch (agents, teams, inboxes, channels).
    assert "Kanäle" in page and "Posteingänge" in page and "Channels" not in page and "Inboxes" not in page
