"""Command-line adapters: parse arguments, call services, print results."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask

from helpdesk import config as settings
from helpdesk import create_app, db_of
from helpdesk.runtime import runtime_of

# A job worker leaves this gap between its write transactions (SQLite): chat goes first.
WORKER_WRITE_GAP_SECONDS = 0.003


def _app(**overrides: Any) -> Flask:
    return create_app(overrides)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group()
@click.version_option(package_name="helpdesk")
def cli() -> None:
    """Helpdesk: live chat, email tickets, CRM and orders for online shops."""


def serve(app: Flask, host: str, port: int, banner: list[str], with_worker: bool = True) -> None:
    """Serve HTTP and sockets in this gevent process; the job worker runs in a child process."""
    from helpdesk import server
    from helpdesk.extensions import socketio
    from helpdesk.supervisor import WorkerSupervisor, worker_environment

    # Without Redis the worker child's socket emits come back to this process through a pipe.
    emits_back = None if app.config.get("REDIS_URL") else socketio
    supervisor = WorkerSupervisor(worker_environment(app.config), socket_server=emits_back) if with_worker else None
    if not with_worker:
        banner = [*banner, "  (no job worker: run `helpdesk worker` beside it)"]
    server.serve(app, host, port, banner, supervisor=supervisor)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Serve only; run `helpdesk worker` separately.")
def run(host: str, port: int, no_worker: bool) -> None:
    """Migrate the database, then serve the app and sockets, with the job worker in a child process."""
    app = _app(SOCKETIO_ASYNC_MODE="gevent")
    base = f"http://{host}:{port}"
    serve(app, host, port, [f"Helpdesk is running: {base}/console  (database: {_safe_url(app)})"],
          with_worker=not no_worker)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Serve only; run `helpdesk worker` separately.")
def demo(host: str, port: int, no_worker: bool) -> None:
    """Serve a fresh demo database with sample data, a demo shop page and demo logins."""
    from helpdesk import demo_mail
    from helpdesk.demo import seed

    # Before anything is touched: a demo already running on this port keeps its database.
    if not demo_mail.port_free(host, port):
        _fail(f"port {port} on {host} is in use (is a demo already running?); "
              f"stop it or pick another with --port")
    instance = settings.instance_path()
    demo_db = instance / "demo.sqlite"
    instance.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{demo_db}{suffix}").unlink(missing_ok=True)
    base = f"http://{host}:{port}"
    mail_line = "  Email         : outgoing via HELPDESK_SMTP_URL"
    if not os.environ.get("HELPDESK_SMTP_URL"):
        maildir = instance / "demo-mail"
        smtp_url, _sink = demo_mail.start_sink(maildir)
        os.environ["HELPDESK_SMTP_URL"] = smtp_url  # the worker child reads it from the environment
        mail_line = f"  Email         : replies go to a local test mailbox, {maildir} (nothing is sent out)"
    app = _app(SOCKETIO_ASYNC_MODE="gevent", DATABASE_URL=f"sqlite:///{demo_db}", DEMO=True, BASE_URL=base)
    seed(app)
    serve(app, host, port, [
        "",
        "Helpdesk demo is running.",
        f"  Agent console : {base}/console   (agent@example.com / demo)",
        f"  Manager       : {base}/console   (manager@example.com / demo)",
        f"  Admin         : {base}/admin/agents   (admin@example.com / demo)",
        f"  Demo shop     : {base}/demo/shop   (chat widget, site key 'demo')",
        f"  REST API      : {base}/api/v1/openapi.json",
        mail_line,
        "Press Ctrl+C to stop.",
        "",
    ], with_worker=not no_worker)


@cli.command()
@click.option("--once", is_flag=True, help="Drain the due jobs and exit.")
def worker(once: bool) -> None:
    """Run only the job worker (`helpdesk run` starts one; more for scale-out). SIGTERM drains."""
    from helpdesk import emit_pipe
    from helpdesk.jobs import Worker
    from helpdesk.supervisor import run_until_terminated

    # Started by `helpdesk run` without Redis: our socket emits go to the web process by a pipe.
    emit_fd = os.environ.get(emit_pipe.ENV)
    overrides: dict[str, Any] = {"EMIT_FD": int(emit_fd)} if emit_fd else {}
    if "HELPDESK_SQLITE_WRITE_GAP_SECONDS" not in os.environ:
        overrides["SQLITE_WRITE_GAP_SECONDS"] = WORKER_WRITE_GAP_SECONDS
    app = _app(**overrides)
    w = Worker(runtime_of(app))
    with app.app_context():
        if once:
            click.echo(f"ran {w.run_until_idle()} jobs")
            return
        click.echo(f"job worker {w.name} polling every {app.config['WORKER_POLL_SECONDS']} s")
        sys.stdout.flush()
        from helpdesk.server import freeze_startup_heap

        freeze_startup_heap()  # a full collection inside a job's transaction held the write lock
        run_until_terminated(w, db_of(app), float(app.config["WORKER_POLL_SECONDS"]),
                             float(app.config["DRAIN_SECONDS"]))


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the schema (default: to head)."""
    from helpdesk.migrations import upgrade

    app = _app(RUN_MIGRATIONS=False)
    upgrade(db_of(app).engine, revision)
    click.echo(f"database upgraded to {revision}")


@cli.command("create-agent")
@click.argument("email")
@click.option("--password", required=True)
@click.option("--role", type=click.Choice(["agent", "manager", "admin"]), default="agent", show_default=True)
@click.option("--name", default="")
def create_agent(email: str, password: str, role: str, name: str) -> None:
    """Create an agent who can log in to the console."""
    from helpdesk.accounts import services
    from helpdesk.actors import SYSTEM
    from helpdesk.errors import DomainError

    app = _app()
    try:
        with db_of(app).unit_of_work() as session:
            agent = services.create_agent(session, SYSTEM, email=email, password=password, name=name, role=role)
            click.echo(f"created {agent.role.value} {agent.email} ({agent.public_id})")
    except DomainError as exc:
        _fail(exc.message)


@cli.group()
def inbox() -> None:
    """Inboxes."""


@inbox.command("create")
@click.argument("name")
@click.option("--channel", type=click.Choice(["chat", "email", "phone"]), required=True)
@click.option("--address", default=None, help="The support address of an email inbox.")
def inbox_create(name: str, channel: str, address: str | None) -> None:
    """Create an inbox; prints its site key (chat) or ingest token (email)."""
    from helpdesk.actors import SYSTEM
    from helpdesk.errors import DomainError
    from helpdesk.tickets import services

    app = _app()
    try:
        with db_of(app).unit_of_work() as session:
            _inbox, shown = services.create_inbox(session, SYSTEM, name=name, channel=channel, address=address)
    except DomainError as exc:
        _fail(exc.message)
    click.echo(shown)


@cli.group("api-token")
def api_token() -> None:
    """API tokens for /api/v1."""


@api_token.command("create")
@click.argument("email")
@click.option("--name", default="cli")
@click.option("--expires-days", type=int, default=None, help="The token stops working after N days.")
@click.option("--read-only", is_flag=True, help="GET requests only; anything else gets 403.")
def api_token_create(email: str, name: str, expires_days: int | None, read_only: bool) -> None:
    """Print a new API token for that agent (and, on stderr, its id for `revoke`)."""
    from helpdesk.accounts import services
    from helpdesk.actors import SYSTEM
    from helpdesk.errors import DomainError

    app = _app()
    try:
        with db_of(app).unit_of_work() as session:
            agent = services.agent_by_email(session, email)
            token, row = services.issue_api_token(session, SYSTEM, agent, name, expires_days=expires_days,
                                                  scope="read" if read_only else "full")
            token_id = row.id
    except DomainError as exc:
        _fail(exc.message)
    click.echo(token)
    click.echo(f"token id {token_id}", err=True)


@api_token.command("list")
@click.argument("email")
def api_token_list(email: str) -> None:
    """The agent's working tokens: id, name, scope, created, last used, expires."""
    from helpdesk.accounts import services
    from helpdesk.errors import DomainError

    app = _app()
    try:
        with db_of(app).unit_of_work() as session:
            rows = [services.token_dict(t) for t in
                    services.list_api_tokens(session, services.agent_by_email(session, email))]
    except DomainError as exc:
        _fail(exc.message)
    for t in rows:
        click.echo(f"{t['id']}\t{t['name']}\t{t['scope']}\t{t['created_at']}\t{t['last_used_at'] or '-'}"
                   f"\t{t['expires_at'] or '-'}")


@api_token.command("revoke")
@click.argument("token_id")
def api_token_revoke(token_id: str) -> None:
    """Revoke a token by its id (from `list`, GET /api/v1/tokens or the console): at once."""
    from helpdesk.accounts import services
    from helpdesk.actors import SYSTEM
    from helpdesk.errors import DomainError

    app = _app()
    try:
        with db_of(app).unit_of_work() as session:
            row = services.revoke_api_token(session, SYSTEM, token_id)
            prefix = row.prefix
    except DomainError as exc:
        _fail(exc.message)
    click.echo(f"revoked token {token_id} ({prefix}…)")


@cli.group()
def mail() -> None:
    """Inbound email: the SMTP server and IMAP fetching."""


@mail.command("smtpd")
@click.option("--listen", default="127.0.0.1:2525", show_default=True, help="HOST:PORT to listen on.")
def mail_smtpd(listen: str) -> None:
    """Receive inbound mail over SMTP for the inbox addresses."""
    from helpdesk.tickets.email import ingest, smtpd

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        _fail("--listen takes HOST:PORT")
    app = _app()
    settings = ingest.MailSettings.from_config(app.config)
    with app.app_context(), contextlib.suppress(KeyboardInterrupt):
        smtpd.serve(db_of(app), settings, host.strip("[]"), int(port),
                    ready=lambda: (click.echo(f"helpdesk SMTP server listening on {host}:{port}"),
                                   sys.stdout.flush()))


@mail.command("fetch")
@click.option("--inbox", "inbox_name", default=None, help="Only this inbox (by name).")
def mail_fetch(inbox_name: str | None) -> None:
    """One IMAP fetch pass over the email inboxes that have an IMAP account."""
    from helpdesk.tickets.email import imap, ingest

    app = _app()
    database = db_of(app)
    with database.unit_of_work() as session:
        targets = [(i.id, i.name) for i in imap.imap_inboxes(session, inbox_name)]
    if not targets:
        _fail(f"no email inbox {inbox_name!r} with an IMAP account" if inbox_name else
              "no email inbox has an IMAP account")
    fetcher = imap.ImapFetcher(database, ingest.MailSettings.from_config(app.config))
    failed = False
    for inbox_id, name in targets:
        try:
            result = fetcher.fetch(inbox_id)
        except Exception as exc:  # one broken account must not stop the others
            failed = True
            click.echo(f"{name}: error: {type(exc).__name__}: {exc}", err=True)
            continue
        summary = ", ".join(f"{n} {k}" for k, n in sorted((result.outcomes or {}).items())) or "nothing new"
        click.echo(f"{name}: fetched {result.fetched} ({summary})")
    every = float(app.config["IMAP_POLL_SECONDS"])
    with database.unit_of_work() as session:
        for inbox_id, _name in targets:
            imap.schedule_poll(session, inbox_id, every=every)  # (re)start the worker's polling of this inbox
    if failed:
        sys.exit(1)


@cli.group()
def crm() -> None:
    """CRM sync (HubSpot or Salesforce, chosen by HELPDESK_CRM)."""


@crm.command("sync")
@click.option("--full", is_flag=True, help="Pull every record, not only those changed since the last pass.")
def crm_sync(full: bool) -> None:
    """Run one pull pass now, with a progress bar; a stopped pass resumes where it stopped."""
    from helpdesk.crm import sync
    from helpdesk.crm.provider import CRMError

    app = _app()
    if sync.provider_name(app.config) is None:
        _fail("no CRM is configured: set HELPDESK_CRM=hubspot or salesforce and its credentials")
    with click.progressbar(length=0, label=f"Pulling from {sync.provider_name(app.config)}", show_pos=True,
                           file=sys.stderr) as bar:
        def progress(count: int, total: int | None) -> None:
            # The first page says how many records the pass matches; later totals (a restarted
            # HubSpot search) count only what is left.
            if total and not bar.length:
                bar.length = total
            bar.update(count)
        try:
            state = sync.run_pass(runtime_of(app), full=full, progress=progress)
        except CRMError as exc:
            _fail(f"sync stopped: {exc} (it resumes from here next time)")
    counts = state.counts or {}
    click.echo(f"done: {counts.get('pulled', 0)} contacts pulled in total, "
               f"{counts.get('created', 0)} linked, "
               f"{counts.get('conflicts', 0)} conflicts; watermark {state.watermark}")


def _platforms() -> list[str]:
    from helpdesk.orders import CONNECTORS

    return list(CONNECTORS)


@cli.group()
def orders() -> None:
    """Orders from the shops."""


@orders.command("backfill")
@click.option("--platform", required=True, type=click.Choice(list(_platforms())))
@click.option("--shop", default=None, help="Which shop of the platform (domain or store hash); default: the first.")
@click.option("--customer", "customer_id", default=None, help="Only this shop customer's orders (platform id).")
@click.option("--detach", is_flag=True, help="Only queue the backfill; the worker does it.")
@click.option("--timeout", default=3600, show_default=True, type=int, help="Give up waiting after this many seconds.")
def orders_backfill(platform: str, shop: str | None, customer_id: str | None, detach: bool, timeout: int) -> None:
    """Import a shop's orders, page by page, as jobs that survive restarts."""
    import time

    from helpdesk.errors import DomainError
    from helpdesk.jobs import Worker
    from helpdesk.orders import sync

    app = _app()
    database = db_of(app)
    try:
        with database.unit_of_work() as session:
            state = sync.start_backfill(session, app.config, platform, customer_id, shop=shop)
            key = (state.platform, state.shop)
    except DomainError as exc:
        _fail(exc.message)
    if detach:
        click.echo(f"backfill of {platform} orders queued; `helpdesk worker` runs it")
        return
    worker = Worker(runtime_of(app))
    deadline = time.monotonic() + timeout
    seen, status, error = 0, "running", None
    with app.app_context(), click.progressbar(length=0, label=f"{platform} orders", show_pos=True,
                                              file=sys.stdout) as bar:
        while time.monotonic() < deadline:
            busy = worker.run_one()
            with database.unit_of_work() as session:
                state = sync.sync_state(session, *key)
                done, total, status, error = (state.backfill_seen, state.backfill_total, state.backfill_state,
                                              state.backfill_error)
            if total and bar.length != total:
                bar.length = total
            if done != seen:
                bar.update(done - seen)
                if not sys.stdout.isatty():  # not a terminal (logs, pipes): a line per page instead of a bar
                    click.echo(f"  {done}/{total or '?'}")
            seen = done
            if status != "running":
                break
            if not busy:
                time.sleep(0.5)  # a page waits for its Retry-After
    if status == "failed":
        _fail(f"backfill failed: {error}")
    if status == "running":
        _fail("still running: the worker will finish it")
    click.echo(f"imported {seen} {platform} orders")


def _safe_url(app: Flask) -> str:
    from sqlalchemy.engine import make_url

    return make_url(app.config["DATABASE_URL"]).render_as_string(hide_password=True)




@cli.group()
def reports() -> None:
    """The reports' daily rollups."""


@reports.command("rebuild-rollups")
@click.option("--full", is_flag=True, help="Forget every rollup first and build the whole history again.")
def reports_rebuild_rollups(full: bool) -> None:
    """Build the daily rollups of every ended day not built yet (the worker keeps them after)."""
    import time

    from helpdesk.reports import rollups

    app = _app()
    tz = app.config["REPORTS_TIMEZONE"]
    started = time.perf_counter()
    if full:
        with db_of(app).unit_of_work() as session:
            rollups.clear(session)
    with db_of(app).unit_of_work() as session:
        days = rollups.build(session, tz)
    click.echo(f"built the rollups of {days} days ({tz}) in {time.perf_counter() - started:.1f} s")
