"""``/api/docs`` in a real browser (Debian's chromium, headless): every route is on the page, and nothing is fetched from elsewhere."""

from __future__ import annotations

import asyncio
import os
import shutil
from html.parser import HTMLParser

import aiohttp
import pytest

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from tests.support import make

CHROMIUM = shutil.which("chromium")
# Under CI a missing browser is a failure (.ci/run installs it); elsewhere the test is skipped.
pytestmark = pytest.mark.skipif(
    not CHROMIUM and not os.environ.get("CI"), reason="Debian's chromium is not installed (apt install chromium)"
)


class Page(HTMLParser):
    """The headings, links and outside resources of the page the browser built."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: dict[str, list[str]] = {"h1": [], "h2": [], "h3": []}
        self.links: list[str] = []
        self.resources: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.headings:
            self._open = tag
            self.headings[tag].append("")
        if tag == "a":
            self.links.append(attrs.get("href", ""))
        if tag in ("script", "img", "link", "iframe") and (attrs.get("src") or attrs.get("href")):
            self.resources.append(attrs.get("src") or attrs.get("href"))

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None

    def handle_data(self, data):
        if self._open:
            self.headings[self._open][-1] += data


async def browse(url: str, *options: str) -> str:
    """What chromium made of ``url``; any host but this machine's is unreachable to it."""
    assert CHROMIUM, "Debian's chromium is not installed: CI installs it (.ci/run)"
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        *options,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()[-2000:]
    return out.decode()


async def test_the_docs_page_shows_every_route(tmp_path, aiohttp_server):
    deployment = make(f"sqlite:///{tmp_path / 'docs.sqlite3'}")
    try:
        server = await aiohttp_server(create_app(deployment, limiter=MemoryLimiter()), host="127.0.0.1")
        base = f"http://127.0.0.1:{server.port}"
        page, dom = Page(), await browse(base + "/api/docs", "--dump-dom")
        page.feed(dom)
        async with aiohttp.ClientSession() as session, session.get(base + "/api/v1/openapi.json") as answer:
            spec = await answer.json()
        served = {f"{method.upper()} {path}" for path, operations in spec["paths"].items() for method in operations}
        assert set(page.headings["h3"]) == served
        assert page.headings["h1"] == [f"{spec['info']['title']}: API v1"]
        assert {tag for operations in spec["paths"].values() for o in operations.values() for tag in o["tags"]} == set(
            page.headings["h2"]
        )
        assert "/api/v1/openapi.json" in page.links and page.resources == []
        sign_up = spec["components"]["schemas"]["SignUp"]  # a body's fields are listed, not just its schema's name
        assert all(f"<code>{name}</code>" in dom for name in sign_up["properties"])
        assert "<code>password</code> string, required" in dom
        shot = tmp_path / "docs.png"
        await browse(base + "/api/docs", f"--screenshot={shot}", "--window-size=1200,900")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000  # something was drawn
    finally:
        deployment.close()
