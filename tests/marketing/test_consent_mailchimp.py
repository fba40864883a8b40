"""Marketing consent: set on the 360 page, by the API or in the widget's pre-chat form; audited;
synced to a Mailchimp audience (a local fake speaking its paths, driven by the real client);
forgotten there by the GDPR erase."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from helpdesk import db_of
from helpdesk.accounts.models import AuditEntry
from helpdesk.actors import SYSTEM
from helpdesk.crm import services as crm
from helpdesk.crm.models import Customer
from helpdesk.db import utcnow
from helpdesk.extensions import socketio
from helpdesk.jobs import Job, JobState, Worker
from helpdesk.marketing.consent import ERASE_JOB, SYNC_JOB, set_consent
from helpdesk.marketing.mailchimp import Audience, MailchimpSettings
from helpdesk.marketing.models import MarketingSync, SyncState
from helpdesk.runtime import runtime_of
from tests.conftest import csrf_token, login
from tests.factories import make_inbox
from tests.marketing.mailchimp_fake import FakeMailchimp

ANN = "Ann.Example@Example.com"
ANN_HASH = hashlib.md5(ANN.lower().encode()).hexdigest()


def make_customer(app: Flask, email: str = ANN, name: str = "Ann Example") -> str:
    with db_of(app).unit_of_work() as s:
        return crm.create_customer(s, SYSTEM, email=email, name=name).public_id


def customer(app: Flask, public_id: str) -> Customer:
    with db_of(app).sessions() as s:
        row = s.scalar(select(Customer).filter_by(public_id=public_id))
        s.expunge(row)
        return row


def sync_state(app: Flask) -> MarketingSync | None:
    with db_of(app).sessions() as s:
        row = s.scalar(select(MarketingSync))
        if row is not None:
            s.expunge(row)
        return row


def jobs_of(app: Flask, kind: str) -> list[Job]:
    with db_of(app).sessions() as s:
        rows = list(s.scalars(select(Job).filter_by(kind=kind).order_by(Job.id)))
        for row in rows:
            s.expunge(row)
        return rows


def run_jobs(app: Flask) -> int:
    return Worker(runtime_of(app)).run_until_idle()


def make_due(app: Flask) -> None:
    with db_of(app).unit_of_work() as s:
        s.execute(update(Job).where(Job.state == JobState.queued).values(run_at=utcnow() - timedelta(seconds=1)))


def consent_click(http: FlaskClient, public_id: str, value: str) -> Any:
    page = f"/console/customers/{public_id}"
    return http.post(f"{page}/consent", data={"consent": value, "csrf_token": csrf_token(http, page)})


def test_agent_subscribes_on_the_360_page_audited_and_synced_to_mailchimp(
        app: Flask, client: FlaskClient, agent: Any, mailchimp: FakeMailchimp) -> None:
    public_id = make_customer(app)
    assert login(client, agent.email).status_code == 302
    page = client.get(f"/console/customers/{public_id}").get_data(as_text=True)
    assert "Not asked" in page and "Subscribe (customer agreed)" in page

    assert consent_click(client, public_id, "1").status_code == 303
    saved = customer(app, public_id)
    assert (saved.marketing_consent, saved.marketing_consent_source, saved.marketing_consent_by) == \
        (True, "console", "Alice Agent")
    with db_of(app).sessions() as s:
        entry = s.scalar(select(AuditEntry).filter_by(action="customer.marketing_consent"))
        assert (entry.actor_name, entry.target_id) == ("Alice Agent", public_id)
        assert entry.data == {"changes": {"marketing_consent": [None, True]}, "source": "console"}
    assert sync_state(app).state is SyncState.pending
    assert [j.payload for j in jobs_of(app, SYNC_JOB)] == [{"customer_id": saved.id}]  # no address in the job
    assert mailchimp.requests == []  # nothing leaves inside the request

    assert run_jobs(app) == 1
    (put,) = mailchimp.requests
    assert (put.method, put.path) == ("PUT", f"/3.0/lists/{mailchimp.list_id}/members/{ANN_HASH}")
    assert put.body == {"email_address": ANN.lower(), "status_if_new": "subscribed", "status": "subscribed"}
    assert put.auth == "Basic " + base64.b64encode(f"user:{mailchimp.key}".encode()).decode()
    assert mailchimp.members[ANN_HASH]["status"] == "subscribed"
    row = sync_state(app)
    assert (row.state, row.status, row.last_error) == (SyncState.synced, "subscribed", None)
    page = client.get(f"/console/customers/{public_id}").get_data(as_text=True)
    assert "Subscribed" in page and "by Alice Agent" in page and "Mailchimp: subscribed" in page

    # Unsubscribe: the same member, status unsubscribed.
    assert consent_click(client, public_id, "0").status_code == 303
    run_jobs(app)
    assert mailchimp.requests[-1].body["status"] == "unsubscribed"
    assert mailchimp.members[ANN_HASH]["status"] == "unsubscribed"
    assert "Unsubscribed" in client.get(f"/console/customers/{public_id}").get_data(as_text=True)


def test_bad_consent_input_is_refused_and_changes_nothing(
        app: Flask, client: FlaskClient, agent: Any, mailchimp: FakeMailchimp) -> None:
    public_id = make_customer(app)
    assert login(client, agent.email).status_code == 302
    response = consent_click(client, public_id, "maybe")
    assert response.status_code == 303
    assert "true or false" in client.get(f"/console/customers/{public_id}").get_data(as_text=True)
    assert customer(app, public_id).marketing_consent is None
    assert jobs_of(app, SYNC_JOB) == []
    with db_of(app).sessions() as s:
        assert s.scalar(select(AuditEntry).filter_by(action="customer.marketing_consent")) is None


def test_a_rate_limit_waits_without_using_an_attempt_and_a_5xx_retries_with_backoff(
        app: Flask, mailchimp: FakeMailchimp) -> None:
    public_id = make_customer(app)
    with db_of(app).unit_of_work() as s:
        set_consent(s, SYSTEM, crm.get_customer(s, public_id), True, source="api", sync=True)
    mailchimp.fail_next[:] = [(429, "Too Many Requests")]
    run_jobs(app)
    (job,) = jobs_of(app, SYNC_JOB)
    assert (job.state, job.attempts) == (JobState.queued, 0)
    assert "Too Many Requests" in job.last_error
    assert job.run_at > utcnow() + timedelta(seconds=4)  # at least the 5 s floor

    mailchimp.fail_next[:] = [(503, "Service Unavailable")]
    make_due(app)
    run_jobs(app)
    (job,) = jobs_of(app, SYNC_JOB)
    assert (job.state, job.attempts) == (JobState.queued, 1)  # an attempt used, backoff before the next
    row = sync_state(app)
    assert row.state is SyncState.pending and "503: Service Unavailable" in row.last_error

    make_due(app)
    run_jobs(app)
    assert jobs_of(app, SYNC_JOB)[0].state is JobState.done
    assert sync_state(app).state is SyncState.synced
    assert mailchimp.members[ANN_HASH]["status"] == "subscribed"


def test_compliance_state_and_forgotten_emails_fail_for_good_with_mailchimps_reason(
        app: Flask, client: FlaskClient, agent: Any, mailchimp: FakeMailchimp) -> None:
    public_id = make_customer(app)
    mailchimp.compliance.add(ANN.lower())
    assert login(client, agent.email).status_code == 302
    consent_click(client, public_id, "1")
    run_jobs(app)
    (job,) = jobs_of(app, SYNC_JOB)
    assert job.state is JobState.dead
    assert job.last_error.startswith("Mailchimp 400: Member In Compliance State — ")
    row = sync_state(app)
    assert row.state is SyncState.failed and "Member In Compliance State" in row.last_error
    page = client.get(f"/console/customers/{public_id}").get_data(as_text=True)
    assert "Not synced: Mailchimp 400: Member In Compliance State" in page

    other = make_customer(app, "bob@example.com", "Bob")
    mailchimp.forgotten.add("bob@example.com")
    consent_click(client, other, "1")
    run_jobs(app)
    assert "Forgotten Email Not Subscribed" in jobs_of(app, SYNC_JOB)[-1].last_error
    assert jobs_of(app, SYNC_JOB)[-1].state is JobState.dead


def test_api_patch_sets_consent_and_the_360_json_shows_it(app: Flask, agent: Any,
                                                           mailchimp: FakeMailchimp) -> None:
    from helpdesk.accounts import services as accounts

    public_id = make_customer(app)
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.get(type(agent), agent.id))
    http = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    bad = http.patch(f"/api/v1/customers/{public_id}", json={"marketing_consent": "yes"}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_marketing_consent"
    assert customer(app, public_id).marketing_consent is None
    good = http.patch(f"/api/v1/customers/{public_id}", json={"marketing_consent": True}, headers=headers)
    assert good.status_code == 200
    marketing = good.get_json()["marketing"]
    assert (marketing["consent"], marketing["source"], marketing["by"]) == (True, "api", "Alice Agent")
    assert marketing["mailchimp"]["state"] == "pending"
    run_jobs(app)
    got = http.get(f"/api/v1/customers/{public_id}", headers=headers).get_json()["marketing"]
    assert got["mailchimp"]["state"] == "synced" and got["mailchimp"]["status"] == "subscribed"


def test_gdpr_erase_forgets_the_member_and_the_job_holds_only_its_hash(
        app: Flask, client: FlaskClient, manager: Any, mailchimp: FakeMailchimp) -> None:
    public_id = make_customer(app)
    assert login(client, manager.email).status_code == 302
    consent_click(client, public_id, "1")
    run_jobs(app)
    assert ANN_HASH in mailchimp.members

    page = f"/console/customers/{public_id}"
    assert client.post(f"{page}/erase", data={"csrf_token": csrf_token(client, page)}).status_code == 303
    erased = customer(app, public_id)
    assert (erased.email, erased.marketing_consent, erased.marketing_consent_by) == (None, None, None)
    assert sync_state(app) is None
    (job,) = jobs_of(app, ERASE_JOB)
    assert job.payload == {"subscriber_hash": ANN_HASH}
    run_jobs(app)
    assert jobs_of(app, ERASE_JOB)[0].state is JobState.done
    assert mailchimp.requests[-1].method == "POST"
    assert mailchimp.requests[-1].path == \
        f"/3.0/lists/{mailchimp.list_id}/members/{ANN_HASH}/actions/delete-permanent"
    assert ANN_HASH not in mailchimp.members and ANN.lower() in mailchimp.forgotten


def test_erasing_someone_mailchimp_never_had_is_done_and_archive_mode_archives(
        app: Flask, mailchimp: FakeMailchimp) -> None:
    settings = MailchimpSettings(mailchimp.key, mailchimp.list_id, mailchimp.url)
    assert Audience(settings).forget("0" * 32) is False
    Audience(settings).set_subscribed("carol@example.com", True)
    carol = hashlib.md5(b"carol@example.com").hexdigest()
    assert Audience(MailchimpSettings(mailchimp.key, mailchimp.list_id, mailchimp.url, erase="archive")).forget(carol)
    assert mailchimp.requests[-1].method == "DELETE" and mailchimp.members[carol]["status"] == "archived"


def test_a_key_without_its_data_centre_parks_the_job_with_the_reason(app: Flask, mailchimp: FakeMailchimp) -> None:
    app.config["MAILCHIMP_API_URL"] = None
    app.config["MAILCHIMP_API_KEY"] = "0123456789abcdef"
    public_id = make_customer(app)
    with db_of(app).unit_of_work() as s:
        set_consent(s, SYSTEM, crm.get_customer(s, public_id), True, source="api", sync=True)
    run_jobs(app)
    (job,) = jobs_of(app, SYNC_JOB)
    assert job.state is JobState.dead and "data centre (like -us21)" in job.last_error
    assert mailchimp.requests == []


def test_the_keys_suffix_picks_the_data_centre() -> None:
    audience = Audience(MailchimpSettings("0123456789abcdef-us21", "list1"))
    assert audience.client.api_client.server == "us21"
    assert audience.client.api_client.host.replace("server", audience.client.api_client.server) == \
        "https://us21.api.mailchimp.com/3.0"


def test_prechat_consent_box_only_when_enabled_and_a_tick_is_recorded_for_the_customer(
        app: Flask, admin: Any, mailchimp: FakeMailchimp) -> None:
    inbox, site = make_inbox(app, "Web chat", "chat")
    frame = app.test_client().get(f"/widget/frame?site={site}").get_data(as_text=True)
    assert "marketing_consent" not in frame  # off by default

    widget = socketio.test_client(app, namespace="/widget", auth={"site": site})
    ack = widget.emit("contact:update", {"name": "Ann", "email": ANN, "marketing_consent": True},
                      namespace="/widget", callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_marketing_consent"
    with db_of(app).sessions() as s:
        assert s.scalar(select(Customer).where(Customer.marketing_consent.is_not(None))) is None

    http = app.test_client()
    assert login(http, admin.email).status_code == 302
    page = f"/admin/chat/{inbox.public_id}"
    http.post(page, data={"csrf_token": csrf_token(http, page), "prechat": "1", "consent": "1",
                          "consent_text": "Yes, email me <b>offers</b>", "greeting": "", "color": "#4f46e5",
                          "max_open_per_agent": "0"})
    frame = app.test_client().get(f"/widget/frame?site={site}").get_data(as_text=True)
    assert 'name="marketing_consent"' in frame
    assert "Yes, email me &lt;b&gt;offers&lt;/b&gt;" in frame  # the shop's text, escaped

    widget = socketio.test_client(app, namespace="/widget", auth={"site": site})
    ack = widget.emit("contact:update", {"name": "Ann", "email": ANN, "marketing_consent": True},
                      namespace="/widget", callback=True)
    assert ack["ok"] is True
    with db_of(app).sessions() as s:
        shopper = s.scalar(select(Customer).where(Customer.marketing_consent.is_(True)))
        assert (shopper.email, shopper.marketing_consent_source, shopper.marketing_consent_by) == \
            (ANN.lower(), "widget", "customer")
        entry = s.scalar(select(AuditEntry).filter_by(action="customer.marketing_consent"))
        assert (entry.actor_type, entry.actor_name) == ("customer", "customer")  # no address in the log
    run_jobs(app)
    assert mailchimp.members[ANN_HASH]["status"] == "subscribed"
    widget.disconnect(namespace="/widget")


def test_no_transaction_is_open_while_mailchimp_is_asked(app: Flask, database_url: str,
                                                         mailchimp: FakeMailchimp) -> None:
    from tests.txprobe import WriteProbe

    probe = WriteProbe(database_url)
    mailchimp.on_request = lambda _request: probe.check()
    public_id = make_customer(app)
    with db_of(app).unit_of_work() as s:
        set_consent(s, SYSTEM, crm.get_customer(s, public_id), True, source="api", sync=True)
    run_jobs(app)
    with db_of(app).unit_of_work() as s:
        from helpdesk.customers360 import services

        services.erase(s, SYSTEM, crm.get_customer(s, public_id), mailchimp=True)
    run_jobs(app)
    assert [r.method for r in mailchimp.requests] == ["PUT", "POST"]
    probe.assert_never_held()


def test_a_change_while_the_sync_is_under_way_is_sent_too(app: Flask, mailchimp: FakeMailchimp) -> None:
    public_id = make_customer(app)
    with db_of(app).unit_of_work() as s:
        set_consent(s, SYSTEM, crm.get_customer(s, public_id), True, source="api", sync=True)

    def change_mind(_request: object) -> None:
        mailchimp.on_request = None
        with db_of(app).unit_of_work() as s:  # the agent unsubscribes while Mailchimp is being asked
            set_consent(s, SYSTEM, crm.get_customer(s, public_id), False, source="console", sync=True)

    mailchimp.on_request = change_mind
    run_jobs(app)
    make_due(app)
    run_jobs(app)
    assert [r.body["status"] for r in mailchimp.requests] == ["subscribed", "unsubscribed"]
    assert mailchimp.members[ANN_HASH]["status"] == "unsubscribed"
    row = sync_state(app)
    assert (row.state, row.status) == (SyncState.synced, "unsubscribed")


def test_inbox_settings_take_consent_and_data_layer_and_refuse_bad_values(app: Flask, admin: Any) -> None:
    from tests.rules.conftest import api_client

    api = api_client(app.test_client(), app, admin)
    inbox, site = make_inbox(app, "Web chat", "chat")
    for bad in ({"consent": "yes"}, {"data_layer": 1}, {"consent_text": "x" * 301}):
        r = api.patch(f"/inboxes/{inbox.public_id}", json={"settings": {"prechat": True, **bad}})
        assert r.status_code == 422, bad
    with db_of(app).sessions() as s:
        from helpdesk.tickets.models import Inbox

        assert not (s.get(Inbox, inbox.id).settings or {}).get("prechat")  # nothing of a refused change
    r = api.patch(f"/inboxes/{inbox.public_id}", json={"settings": {
        "prechat": True, "consent": True, "consent_text": "  Email me   offers ", "data_layer": True}})
    assert r.status_code == 200
    settings = r.get_json()["settings"]
    assert (settings["consent"], settings["consent_text"], settings["data_layer"]) == (True, "Email me offers", True)
    # Third-party front ends learn it from the session: the box and its text.
    widget = socketio.test_client(app, namespace="/widget", auth={"site": site})
    session = next(p["args"][0] for p in widget.get_received("/widget") if p["name"] == "session")
    assert session["inbox"]["consent"] == {"text": "Email me offers"}
    widget.disconnect(namespace="/widget")
