"""The discovery pages in a real browser (Debian's chromium through Playwright): the home page, the list of things,
a thing's page and a creator's profile, in English and in French.

Each passes every check of ``page_problems`` (axe-core, its assets' weight,
its language, no English left on a French page), and nothing scrolls
sideways at a phone's width. The list is searched and filtered by a person's
clicks, with JavaScript off. Screenshots: docs/screenshots/discovery-en.png
(the list) and thing-fr.png (a French thing's page).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.flattr import flattr
from gateway.usecases.participants import register_participant
from gateway.usecases.things import register_thing, update_thing
from tests.browser_support import DESKTOP, LOCALES, needs_browser, page_problems, screenshot, too_wide
from tests.browser_support import browser as browser  # the fixtures; the deployment is SQLite only
from tests.browser_support import web_deployment as web_deployment
from tests.support import eur, top_up

pytestmark = needs_browser


@dataclass(frozen=True)
class Scene:
    comic: int  # French
    essay: int  # English
    hidden: int


@pytest.fixture
def scene(deployment) -> Scene:
    """Things in both languages by two creators, some flattred by funders with budgets, one hidden."""
    lea = register_participant(deployment, "lea", language="fr")
    sam = register_participant(deployment, "sam")
    comic = register_thing(
        deployment,
        lea,
        "https://lea.example/bd/ete",
        "L'été à Marseille",
        "fr",
        "bande dessinée",
        "Une bande dessinée en douze planches, sur un été au bord de la mer.\nGratuite, sous licence libre.",
        ["bd", "été", "mer"],
    )
    essay = register_thing(
        deployment,
        sam,
        "https://sam.example/essays/commons",
        "Tending the commons",
        "en",
        "essay",
        "On shared gardens.",
        ["commons"],
    )
    register_thing(deployment, sam, "https://sam.example/code/tiny", "A tiny parser", "en", "code", tags=["python"])
    register_thing(deployment, lea, "https://lea.example/musique", "Chanson pour la pluie", "fr", "musique")
    hidden = register_thing(deployment, lea, "https://lea.example/brouillon", "Brouillon", "fr")
    update_thing(deployment, lea, hidden.id, {"hidden": True})
    for n in range(3):
        fan = register_participant(deployment, f"fan{n}")
        top_up(deployment, fan, eur("5.00"), "sandbox", key=f"fan{n}")
        flattr(deployment, fan, comic.id)
        if n:
            flattr(deployment, fan, essay.id)
    return Scene(comic.id, essay.id, hidden.id)


@pytest.fixture
async def site(deployment, scene, aiohttp_server) -> str:
    """The scene is made before the server starts (the shared ``site`` does not wait for it)."""
    server = await aiohttp_server(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)), host="127.0.0.1")
    return f"http://127.0.0.1:{server.port}"


def paths(scene: Scene) -> list[str]:
    return ["/", "/things", "/things?sort=small&language=fr", f"/things/{scene.comic}", f"/things/{scene.essay}", "/creators/lea"]


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_the_discovery_pages_are_accessible_narrow_light_and_translated(browser, site, scene, language):
    found = {}
    desktop = await browser.new_context(locale=LOCALES[language], viewport=DESKTOP, bypass_csp=True)
    page = await desktop.new_page()
    for path in paths(scene):
        problems = await page_problems(desktop, page, site, path, language)
        if problems:
            found[path] = problems
        if path == "/things" and language == "en":
            await page.screenshot(path=screenshot("discovery-en"), full_page=True)
        if path == f"/things/{scene.comic}" and language == "fr":
            await page.screenshot(path=screenshot("thing-fr"), full_page=True)
    await desktop.close()

    found.update(await too_wide(browser, site, language, paths(scene)))
    assert found == {}


async def test_finding_a_thing_and_its_creator_without_javascript(browser, site, scene):
    context = await browser.new_context(locale="fr-FR", java_script_enabled=False, viewport=DESKTOP)
    page = await context.new_page()
    await page.goto(site + "/")
    await page.get_by_label("Chercher des créations").fill("été")
    await page.get_by_role("button", name="Chercher").click()
    await page.wait_for_url(site + "/things?q=%C3%A9t%C3%A9")
    await page.get_by_role("link", name="L'été à Marseille").click()
    await page.wait_for_url(site + f"/things/{scene.comic}")
    assert await page.get_by_role("heading", level=1).inner_text() == "L'été à Marseille"
    assert await page.get_by_role("link", name="Flattrer").get_attribute("href") == f"/flattr/{scene.comic}"
    await page.locator(".facts").get_by_role("link", name="lea").click()
    await page.wait_for_url(site + "/creators/lea")
    titles = await page.locator(".thing-title").all_inner_texts()
    assert titles == ["Chanson pour la pluie", "L'été à Marseille"]  # newest first, the hidden draft nowhere
    await page.goto(site + "/things")
    await page.locator("#facet-language + .chips").get_by_role("link", name="anglais").click()
    await page.get_by_role("navigation", name="Ordre").get_by_role("link", name="Nouveautés").click()
    await page.wait_for_url(site + "/things?language=en&sort=new")
    assert await page.locator(".thing-title").all_inner_texts() == ["A tiny parser", "Tending the commons"]
    await context.close()
