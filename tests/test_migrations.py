"""One head, upgrade from empty works, and the models and the migrations do not drift."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from helpdesk.db import make_engine
from helpdesk.migrations import alembic_config, include_name, upgrade
from helpdesk.models import metadata


def test_there_is_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1


def test_upgrade_from_empty_creates_every_table_and_autogenerate_finds_nothing(database_url: str) -> None:
    # database_url is a copy of a database that was upgraded from empty to head.
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name,
                                                         "render_as_batch": conn.dialect.name == "sqlite"})
            assert compare_metadata(ctx, metadata) == []
            assert ctx.get_current_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)  # already at head: a second start changes nothing
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() is not None
    finally:
        engine.dispose()
