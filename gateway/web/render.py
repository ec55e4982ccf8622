"""Templates and static assets: one Jinja2 environment a language, and assets served under names that carry their hash.

Each language has its own environment, with its catalog installed through
``jinja2.ext.i18n`` (newstyle gettext: ``_("Hello %(name)s", name=...)``
escapes what it fills in, and a translation is never formatted twice).
Autoescape is on for every template.

Assets are read once at start and served as ``/static/<name>.<hash>.<ext>``,
cached for a year: a changed file has a new name, so no browser keeps an old
one. Pages name them through ``asset("site.css")``.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from gateway.i18n import translations
from gateway.rules import LANGUAGES

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"  # a year: the name changes with the content


@dataclass(frozen=True)
class Asset:
    name: str  # as served: site.3f2a9c1d.css
    body: bytes
    content_type: str


@cache
def assets() -> dict[str, Asset]:
    """Every file of ``static/`` by its plain name (``site.css``), with the name it is served under."""
    found = {}
    for path in sorted(STATIC.iterdir()):
        if not path.is_file():
            continue
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:12]
        served = f"{path.stem}.{digest}{path.suffix}"
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        found[path.name] = Asset(served, body, content_type)
    return found


@cache
def served_assets() -> dict[str, Asset]:
    """The assets by the name they are served under."""
    return {asset.name: asset for asset in assets().values()}


def asset(name: str) -> str:
    """The address of a static file, by its plain name; an unknown one is a mistake in a template, so it raises."""
    return STATIC_PREFIX + assets()[name].name


def _environment(language: str) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,  # a name a template uses and the page forgot is an error, not an empty string
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    environment.globals["asset"] = asset
    return environment


@cache
def environments() -> dict[str, Environment]:
    return {language: _environment(language) for language in LANGUAGES}


def render(language: str, template: str, context: dict[str, Any]) -> str:
    return environments()[language].get_template(template).render(context)


def template_names() -> list[str]:
    return sorted(path.name for path in TEMPLATES.glob("*.html"))


def load_all() -> None:
    """Read the assets and build the environments now, at start: a missing file stops the server there."""
    assets()
    environments()
