"""Alembic, shipped inside the package: `helpdesk run` upgrades to head on start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

HERE = Path(__file__).parent


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def include_name(name: str | None, type_: str, parent: dict[str, str | None] | None) -> bool:
    """Autogenerate and the drift check skip what the search migrations make by hand on purpose:
    SQLite's FTS5 tables, PostgreSQL's stored vector column and its GIN index (see
    helpdesk.tickets.search)."""
    from helpdesk.tickets.search import FTS_TABLES, PG_COLUMN

    if type_ == "table":
        return name not in FTS_TABLES
    if type_ == "column":
        return not (name == PG_COLUMN and (parent or {}).get("table_name") == "search_entries")
    return not (type_ == "index" and name == "ix_search_entries_tsv")
