"""The database's schema: bringing it up to date, and refusing to work on one that is behind."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from gateway.deployment import Deployment
from gateway.errors import ConfigError
from gateway.storage.migrate import current_revision, head_revision, upgrade


def upgrade_schema(deployment: Deployment) -> str:
    """Apply the migrations up to the latest; returns the revision the database is at."""
    upgrade(deployment.engine)
    return current_revision(deployment.engine) or "none"


def require_current_schema(deployment: Deployment) -> None:
    """Refuse a database whose schema is behind (or ahead of) this release: ``gateway db upgrade`` first."""
    revision = current_revision(deployment.engine)
    if revision != head_revision():
        raise ConfigError(f"the database is at schema {revision or 'none'}, not {head_revision()}: run `gateway db upgrade`")


def not_ready(deployment: Deployment) -> str | None:
    """Why the deployment cannot serve yet (its database does not answer, or its schema is not this release's); None: it can."""
    try:
        revision = current_revision(deployment.engine)
    except DBAPIError:
        return "the database does not answer"
    if revision != head_revision():
        return f"the database is at schema {revision or 'none'}, not {head_revision()}"
    return None


def database_address(deployment: Deployment) -> str:
    """Where the database is, as an operator reads it (a password is hidden)."""
    return deployment.engine.url.render_as_string()
