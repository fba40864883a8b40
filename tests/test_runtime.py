"""One runtime per app: two apps in one process share no handlers, capabilities, caches or settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from helpdesk import create_app, db_of, jobs
from helpdesk.crm import sync
from helpdesk.jobs import Job, JobState, Worker
from helpdesk.runtime import JobContext, runtime_of


@pytest.fixture
def other_app(app_config: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    """A second app on the same database, as a web process and a worker would be."""
    other = create_app({**app_config, "INSTANCE_PATH": str(tmp_path / "other-instance")})
    yield other
    db_of(other).dispose()


def test_every_room_registers_its_jobs_on_each_apps_own_runtime(app: Flask, other_app: Flask) -> None:
    first, second = runtime_of(app), runtime_of(other_app)
    assert first is not second and first.jobs is not second.jobs
    expected = {"crm.pull", "crm.push", "crm.refresh", "orders.fetch", "orders.backfill", "orders.magento_pull",
                "orders.start_pulls", "csat.send", "tickets.wake_snoozed", "email.send", "email.acknowledge",
                "email.imap_poll", "email.csat_survey", "email.housekeeping", "sla.sweep", "sla.reapply"}
    assert expected <= set(first.jobs.kinds) == set(second.jobs.kinds)
    assert set(first.jobs.every) == {"tickets.wake_snoozed", "email.housekeeping", "email.display_backfill",
                                     "orders.start_pulls", "rules.idle", "sla.sweep", "reports.refresh_rollups"}


def test_a_handler_registered_on_one_app_is_unknown_to_the_other(app: Flask, other_app: Flask) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(ctx: JobContext, payload: dict[str, Any]) -> None:
        seen.append((ctx.job.kind, payload))
        assert ctx.runtime is runtime_of(app) and ctx.settings is app.config and ctx.db is db_of(app)

    runtime_of(app).jobs.register("test.only_here", record)
    with db_of(app).unit_of_work() as s:
        first = jobs.enqueue(s, "test.only_here", {"n": 1}).id
    # The other app's worker claims it first and has no handler: the job is dead, with the reason.
    assert Worker(runtime_of(other_app)).run_one()
    with db_of(app).unit_of_work() as s:
        job = s.get(Job, first)
        assert job.state is JobState.dead and "no handler" in (job.last_error or "")
        jobs.retry_dead(s, first)
    assert Worker(runtime_of(app)).run_one()
    assert seen == [("test.only_here", {"n": 1})]


def test_capabilities_and_per_app_state_are_not_shared(app: Flask, other_app: Flask) -> None:
    first, second = runtime_of(app), runtime_of(other_app)
    first.provide("test.answer", lambda: 42)
    assert first.capability("test.answer")() == 42 and second.capability("test.answer") is None
    with pytest.raises(ValueError, match="already provided"):
        first.provide("test.answer", lambda: 43)
    # The chat room's flood gate and the CRM room's provider cache live on each runtime.
    app.config.update(CRM="hubspot", HUBSPOT_ACCESS_TOKEN="token-a", HUBSPOT_API_URL="http://127.0.0.1:9")
    other_app.config.update(CRM="hubspot", HUBSPOT_ACCESS_TOKEN="token-b", HUBSPOT_API_URL="http://127.0.0.1:9")
    a, b = sync.provider(first), sync.provider(second)
    assert a is not None and b is not None and a is not b
    assert sync.provider(first) is a, "one provider per app: its request budget is shared by its jobs"
    app.config["HUBSPOT_ACCESS_TOKEN"] = "token-a2"
    assert sync.provider(first) is not a, "a changed setting gets a fresh client"


def test_a_setting_changed_on_one_app_is_seen_by_its_jobs_only(app: Flask, other_app: Flask) -> None:
    seen: dict[str, Any] = {}
    for name, one in (("first", app), ("second", other_app)):
        runtime_of(one).jobs.register(
            "test.settings", lambda ctx, payload, name=name: seen.setdefault(name, ctx.settings.get("PAGE_SIZE")))
    app.config["PAGE_SIZE"] = 7
    for one in (app, other_app):
        with db_of(one).unit_of_work() as s:
            jobs.enqueue(s, "test.settings")
        assert Worker(runtime_of(one)).run_one()
    assert seen == {"first": 7, "second": 25}


def test_socket_presence_and_the_flood_gate_belong_to_one_app(app: Flask, other_app: Flask) -> None:
    from helpdesk.chat.sockets import socket_state
    from helpdesk.chat.state import state_of

    first, second = state_of(app), state_of(other_app)
    first.presence.connect("sid-1", 7, "agt_7", "Alice")
    assert first.presence.online_agent_ids() == {7}
    assert second.presence.online_agent_ids() == set()
    burst = int(app.config["CHAT_FLOOD_BURST"])
    assert all(first.throttle.flood(1) for _ in range(burst)) and not first.throttle.flood(1)
    assert second.throttle.flood(1), "another app's visitors have their own budget"
    socket_state(runtime_of(app)).visitors["sid-1"] = object()  # type: ignore[assignment]
    assert not socket_state(runtime_of(other_app)).visitors


def test_page_templates_are_compiled_before_the_port_opens(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # `helpdesk run` compiles them at start: compiling the conversation page in a request held the
    # gevent loop (and every chat message) for ~100 ms the first time an agent opened one.
    from flask.testing import FlaskClient

    from helpdesk.server import compile_templates
    from tests.conftest import login, make_agent
    from tests.factories import make_conversation, make_inbox

    compile_templates(app)
    compiled: list[str | None] = []
    original = app.jinja_env.compile
    monkeypatch.setattr(app.jinja_env, "compile",
                        lambda source, name=None, *a, **k: compiled.append(name) or original(source, name, *a, **k))
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    client: FlaskClient = app.test_client()
    assert login(client, make_agent(app, "cara@example.com").email).status_code == 302
    for page in ("/console", f"/console/c/{conv.public_id}", "/console/customers"):
        assert client.get(page).status_code == 200
    assert compiled == []
