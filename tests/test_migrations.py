"""The migrations and the schema in code never drift apart; both databases migrate up and down."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.storage.engine import make_engine
from gateway.storage.migrate import alembic_config, current_revision, head_revision
from gateway.storage.schema import metadata


def test_migrated_database_matches_the_schema(database_url):
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
