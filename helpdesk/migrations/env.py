"""Alembic environment: the engine comes from the app (helpdesk.migrations.upgrade)."""

from alembic import context

from helpdesk.migrations import include_name
from helpdesk.models import metadata

config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from helpdesk import config as settings
        from helpdesk.db import make_engine

        engine = make_engine(settings.load(settings.instance_path())["DATABASE_URL"])
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
