"""Languages: complete catalogues, the console in the agent's language, dates and money per
locale, the widget's catalogues and the customer's language in automatic mails."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import db_of, i18n
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.crm.models import Customer
from helpdesk.jobs import Worker
from helpdesk.runtime import runtime_of
from helpdesk.tickets import csat
from helpdesk.tickets import services as tickets
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import Conversation
from tests.conftest import ROOT, csrf_token
from tests.factories import make_conversation, make_inbox

TRANSLATIONS = ROOT / "helpdesk" / "translations"
WIDGET = ROOT / "helpdesk" / "static" / "widget" / "locales"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")


def _as_list(value: str | tuple[str, ...] | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_catalogue_translates_every_message_with_the_same_placeholders(locale: str) -> None:
    template = read_po((TRANSLATIONS / "messages.pot").open("rb"))
    po_path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    catalogue = read_po(po_path.open("rb"))
    compiled = read_mo((po_path.with_suffix(".mo")).open("rb"))
    for message in template:
        if not message.id:
            continue
        found = catalogue.get(message.id)
        assert found is not None, f"{locale}: {message.id!r} is not in the catalogue"
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [found.string] if isinstance(found.string, str) else list(found.string)
        assert strings and all(s.strip() for s in strings), f"{locale}: {message.id!r} has no translation"
        for text in strings:
            assert _placeholders(text) == _placeholders(ids[-1]), f"{locale}: placeholders of {message.id!r}"
        # The shipped .mo is compiled from this .po (scripts/i18n): nothing stale in the wheel.
        shipped = compiled.get(message.id)
        assert shipped is not None and list(_as_list(shipped.string)) == strings, (
            f"{locale}: {message.id!r} differs in messages.mo; run scripts/i18n")


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_widget_catalogue_has_every_key_and_placeholder(locale: str) -> None:
    english = json.loads((WIDGET / "en.json").read_text(encoding="utf-8"))
    strings = json.loads((WIDGET / f"{locale}.json").read_text(encoding="utf-8"))
    assert set(strings) == set(english)
    for key, text in strings.items():
        assert text.strip(), key
        assert sorted(re.findall(r"\{\w+\}", text)) == sorted(re.findall(r"\{\w+\}", english[key])), key


def test_the_widget_speaks_polish_from_the_browser_or_the_embed_option(app: Flask, client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)

    def config(url: str, **headers: str) -> dict:
        html = client.get(url, headers=headers).get_data(as_text=True)
        return json.loads(re.search(r'<script[^>]*id="config"[^>]*>(.*?)</script>', html, re.S).group(1))

    polish = config(f"/widget/frame?site={inbox.site_key}", **{"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"})
    assert polish["lang"] == "pl" and polish["strings"]["send"] == "Wyślij"
    chosen = config(f"/widget/frame?site={inbox.site_key}&locale=pl", **{"Accept-Language": "de"})
    assert chosen["lang"] == "pl" and chosen["strings"]["csat_question"] == "Jak nam poszło?"
    loader = client.get("/widget.js").get_data(as_text=True)
    assert 'getAttribute("data-locale")' in loader


def test_accept_language_picks_german_and_the_agent_override_wins(app: Flask, agent_client: FlaskClient,
                                                                  agent: Agent) -> None:
    german = agent_client.get("/console", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.8"})
    html = german.get_data(as_text=True)
    assert '<html lang="de">' in html and "Konversationen" in html and "Warteschlange" in html
    assert "Abmelden" in html and "Log out" not in html
    assert '<html lang="en">' in agent_client.get("/console").get_data(as_text=True)
    token = csrf_token(agent_client, "/settings/profile")
    saved = agent_client.post("/settings/profile", data={"csrf_token": token, "name": agent.name, "locale": "fr"},
                              headers={"Accept-Language": "de"}, follow_redirects=True)
    assert "Profil enregistré." in saved.get_data(as_text=True)
    html = agent_client.get("/console", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="fr">' in html and "Se déconnecter" in html
    with db_of(app).unit_of_work() as s:
        assert s.get(Agent, agent.id).locale == "fr"
    # An unknown language is refused and changes nothing; "" goes back to the browser's.
    agent_client.post("/settings/profile", data={"csrf_token": token, "name": agent.name, "locale": "xx"})
    with db_of(app).unit_of_work() as s:
        assert s.get(Agent, agent.id).locale == "fr"
    agent_client.post("/settings/profile", data={"csrf_token": token, "name": agent.name, "locale": ""})
    assert '<html lang="de">' in agent_client.get("/console", headers={"Accept-Language": "de"}).get_data(as_text=True)


def test_a_french_console_page_shows_french_words_money_and_dates(app: Flask, agent_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox, email="chloe@example.fr", name="Chloé")
    with db_of(app).unit_of_work() as s:
        customer = s.get(Customer, conv.customer_id)
        customer.created_at = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
    page = agent_client.get(f"/console/c/{conv.public_id}", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    html = page.get_data(as_text=True)
    assert '<html lang="fr">' in html
    for words in ("Note privée", "Me l'attribuer", "Conversations précédentes", "Client depuis mars 2025",
                  "Consigner un appel", "Envoyer"):
        assert words in html, words
    assert ">ouverte<" in html  # the status pill
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        from flask import render_template_string

        money = render_template_string("{{ 1234.5|money('EUR') }} · {{ when|when('short') }}",
                                       when=datetime(2026, 3, 4, 17, 5, tzinfo=UTC))
    assert money == "1\u202f234,50\xa0€ · 04/03/2026 17:05"


def test_money_and_dates_follow_the_locale() -> None:
    assert i18n.format_money(Decimal("1234.5"), "EUR", "de") == "1.234,50\xa0€"
    assert i18n.format_money(Decimal("1234.5"), "USD", "en") == "$1,234.50"
    assert i18n.format_money(1234.5, "PLN", "pl") == "1\xa0234,50\xa0zł"
    moment = datetime(2026, 12, 1, 9, 5, tzinfo=UTC)
    assert i18n.format_when(moment, "de", timezone="Europe/Berlin", fmt="short") == "01.12.26, 10:05"
    assert i18n.format_day(moment, "es", "long") == "1 de diciembre de 2026"
    assert i18n.supported("pt-BR") == "pt" and i18n.supported("zh") is None


def test_the_survey_mail_speaks_the_customers_language(app: Flask, client: FlaskClient, agent: Agent) -> None:
    _, token = make_inbox(app, "Support mail", "email", "support@shop.example")
    raw = (b"From: Jan Kowalski <jan@example.pl>\r\nTo: support@shop.example\r\nSubject: Paczka\r\n"
           b"Message-ID: <pl-1@example.pl>\r\nContent-Language: pl\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"\r\nGdzie jest moja paczka?\r\n")
    assert client.post("/inbound/email/raw", data=raw, headers={"Authorization": f"Bearer {token}",
                                                                 "Content-Type": "message/rfc822"}).status_code < 300
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation))
        assert conv.customer.locale == "pl"
        tickets.assign(s, SYSTEM, conv, s.get(Agent, agent.id))
        tickets.set_status(s, SYSTEM, conv, "resolved")
    Worker(runtime_of(app)).run_until_idle(max_jobs=50)
    with db_of(app).unit_of_work() as s:
        survey = s.scalar(select(CsatSurvey))
        subject, text, html = csat.survey_email(survey, secret_key="k", base_url="http://localhost")
    assert subject.startswith("Jak nam poszło?") and "Dzień dobry, Jan Kowalski," in text
    assert "Twoja rozmowa z nami w sprawie „Paczka” została rozwiązana." in text
    assert "Doskonale" in html and '<html lang="pl">' in html
    # A customer of unknown language gets English.
    with db_of(app).unit_of_work() as s:
        s.scalar(select(Customer)).locale = None
    with db_of(app).unit_of_work() as s:
        subject, text, _ = csat.survey_email(s.scalar(select(CsatSurvey)), secret_key="k", base_url="")
    assert subject.startswith("How did we do?") and "Excellent" in text


def test_wheel_paths_hold_the_catalogues() -> None:
    # hatch ships everything under helpdesk/ that git tracks; the .mo files must be among them.
    for locale in i18n.LOCALES:
        assert (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").is_file()
    assert Path(i18n.TRANSLATIONS) == TRANSLATIONS


def test_the_reports_page_in_french_formats_its_period_and_money(client: FlaskClient, manager: Agent,
                                                                  session: Session) -> None:
    from tests.conftest import login
    from tests.reports.test_commerce import build_shop

    login(client, manager.email)
    build_shop(session)
    html = client.get("/reports?from=2026-03-01&to=2026-03-31",
                      headers={"Accept-Language": "fr-CH, fr;q=0.9"}).get_data(as_text=True)
    assert "<h1>Rapports</h1>" in html and "Chiffre d'affaires après un chat" in html
    assert "1 mars 2026 \u2013 31 mars 2026" in html
    assert 'data-kpi="revenue_after_chat">120,00<' in html


def test_the_queue_snooze_admin_and_audit_pages_speak_german(app: Flask, admin_client: FlaskClient) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox, email="jonas@example.de", name="Jonas")
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    queue = admin_client.get("/console", headers=german).get_data(as_text=True)
    for words in ("Zur Warteschlange springen", "Letzte Aktivität", "Am längsten wartend", "Jonas auswählen",
                  "Neue E-Mail"):
        assert words in queue, words
    page = admin_client.get(f"/console/c/{conv.public_id}", headers=german).get_data(as_text=True)
    for words in ("Zurückstellen bis", "Bis…"):
        assert words in page, words
    agents = admin_client.get("/admin/agents", headers=german).get_data(as_text=True)
    assert "Agent einladen" in agents and "Reset-Link" in agents and "Invite an agent" not in agents
    inboxes = admin_client.get("/admin/inboxes", headers=german).get_data(as_text=True)
    assert "Posteingang löschen" in inboxes and "Zuweisung" in inboxes
    audit = admin_client.get("/admin/audit", headers=german).get_data(as_text=True)
    assert "Jede Aktion" in audit and "Wann (UTC)" in audit and "Filtern" in audit
