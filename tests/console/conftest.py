"""Browser tests of the console (F-35): a real Chromium driven by Playwright against the
console of the session platform, which calls the real dossier API and gateway. Each test
signs in as a user made for it and saves a screenshot of its last screen under
`tests/console/artifacts/`."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from relance_devstack.supervisor import Supervisor

ARTIFACTS = Path(__file__).parent / "artifacts"
# The machine is shared: give a screen some seconds before saying it is wrong.
expect.set_options(timeout=15_000)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """Debian's chromium where Playwright cannot download its own browser."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def console_url(platform: Supervisor) -> str:
    return platform.running["console"].url


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        path = chromium_path()
        browser = await playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS) if path else await playwright.chromium.launch()
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Person:
    name: str
    password: str
    role: str
    collector: str | None = None


@pytest.fixture(scope="session")
async def make_person(dossier_api):
    """A user with a password (and a collector of their own for the collector role)."""

    async def make(role: str, collector: str | None = None, new_collector: bool = True) -> Person:
        suffix = uuid4().hex[:6]
        if role == "collector" and collector is None and new_collector:
            collector = f"COL-{suffix.upper()}"
            response = await dossier_api.post("/collectors", json={"code": collector, "name": f"Collector {suffix}"})
            assert response.status_code == 201, response.text
        person = Person(f"{role}-{suffix}", f"pw-{uuid4().hex[:12]}", role, collector)
        response = await dossier_api.post("/users", json={
            "name": person.name, "role": role, "collector_code": collector, "password": person.password})
        assert response.status_code == 201, response.text
        return person

    return make


@pytest.fixture
async def new_page(browser: Browser, console_url: str, request) -> AsyncIterator:
    """Pages in fresh browser contexts (English unless asked); the last one opened is
    saved as `artifacts/<test>.png` when the test ends, passed or failed."""
    contexts: list[BrowserContext] = []
    pages: list[Page] = []

    async def open_page(locale: str | None = "en") -> Page:
        context = await browser.new_context(base_url=console_url, viewport={"width": 1400, "height": 1000})
        if locale:
            await context.add_cookies([{"name": "relance_lang", "value": locale, "url": console_url}])
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(20_000)
        pages.append(page)
        return page

    yield open_page
    if pages:
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            await pages[-1].screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        except Exception:  # noqa: BLE001 - a screenshot never hides the test's own result
            pass
    for context in contexts:
        await context.close()


async def sign_in(page: Page, person: Person, target: str = "/") -> Page:
    await page.goto(f"/login?next={target}")
    await page.fill("#username", person.name)
    await page.fill("#password", person.password)
    await page.click("#sign-in")
    await page.wait_for_load_state("networkidle")
    return page


@pytest.fixture
async def signed_in(new_page, make_person):
    """`await signed_in("collector")` → (page, person), signed in."""

    async def open_as(role: str = "collector", person: Person | None = None, locale: str = "en"):
        person = person or await make_person(role)
        page = await new_page(locale)
        await sign_in(page, person)
        return page, person

    return open_as
