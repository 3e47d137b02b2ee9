"""A real `embedlab serve` (minilm, an API key, a known collection) and real headless Chromium.

Chromium is Debian's /usr/bin/chromium driven by Playwright (never a downloaded browser); the
server is a child process on a free loopback port, and the page talks only to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from embedlab.server.child import ServerProcess

KEY = "ui-key-3f9c1e7a"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOPICS = {
    "pets": [
        "The cat slept on the sofa all afternoon.",
        "Our puppy chews every shoe he can find.",
        "Kittens love chasing a ball of yarn.",
        "The dog barked at the mailman again.",
        "A hamster runs for hours on its wheel.",
        "The parrot learned to say hello.",
        "We adopted an old cat from the shelter.",
        "Goldfish need clean water and a filter.",
    ],
    "money": [
        "The central bank raised interest rates to fight inflation.",
        "Stock markets fell sharply after the earnings report.",
        "She opened a savings account at the bank.",
        "Mortgage payments rose when rates went up.",
        "Investors moved money into government bonds.",
        "The startup raised ten million dollars.",
        "Inflation eats into the value of savings.",
        "The company paid a dividend to shareholders.",
    ],
    "weather": [
        "Heavy rain flooded the streets this morning.",
        "A cold front will bring snow by the weekend.",
        "The heatwave pushed temperatures above forty degrees.",
        "Thunderstorms are expected over the mountains.",
        "Fog delayed flights at the airport.",
        "A gentle breeze cooled the summer evening.",
        "The hurricane made landfall overnight.",
        "Frost covered the fields at dawn.",
    ],
    "programming": [
        "Unit tests catch regressions before release.",
        "The compiler reported a type error on line ten.",
        "Python lists grow as you append items.",
        "Version control lets a team share one codebase.",
        "A race condition crashed the server under load.",
        "Refactoring made the function easier to read.",
        "The API returns JSON with a status code.",
        "Debugging a memory leak took two days.",
    ],
}


def items() -> tuple[list[str], list[str], list[dict[str, Any]]]:
    ids, texts, metas = [], [], []
    for topic, sentences in TOPICS.items():
        for i, text in enumerate(sentences):
            ids.append(f"{topic}-{i}")
            texts.append(text)
            metas.append({"topic": topic, "year": 2018 + i, "source": {"kind": "test"}})
    return ids, texts, metas


class Server(ServerProcess):
    """A page-test server: one model thread, no API keys inherited from the environment."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        super().__init__(*args, env={"EMBEDLAB_API_KEYS": None, "EMBEDLAB_THREADS": "1", **env})


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory) -> Iterator[Server]:
    """minilm behind an API key, with the collection ``notes``: 4 topics x 8 texts."""
    root = tmp_path_factory.mktemp("ui-server")
    keys = root / "keys.txt"
    keys.write_text(KEY + "\n", encoding="utf-8")
    server = Server(
        "--models",
        "minilm",
        "--api-keys-file",
        str(keys),
        "--collections",
        str(root / "collections"),
        "--jobs-dir",
        str(root / "jobs"),
        env={"EMBEDLAB_HOME": str(root / "home"), "HF_HUB_OFFLINE": "1"},
    )
    try:
        ids, texts, metas = items()
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120
        ) as http:
            http.post("/v1/collections", json={"name": "notes"}).raise_for_status()
            http.post(
                "/v1/collections/notes/add", json={"ids": ids, "texts": texts, "metadatas": metas}
            ).raise_for_status()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module, not session: Playwright's sync API keeps an event loop running in this thread
    # while it lives, so a later test file in the same process (pytest-xdist runs files in any
    # order) could not call asyncio.run().
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where the tests save their screenshots: $EMBEDLAB_UI_SCREENSHOTS, else a temporary folder."""
    given = os.environ.get("EMBEDLAB_UI_SCREENSHOTS")
    folder = Path(given) if given else tmp_path_factory.mktemp("ui-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Visit:
    """One browser context on the page, recording every request it makes."""

    def __init__(self, browser: Any, server: Server, shots: Path) -> None:
        self.server = server
        self.shots = shots
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, view: str = "search", key: str | None = KEY) -> Any:
        """Load the page, type the key into its key box (if any), wait until it is ready."""
        page = self.page
        page.goto(f"{self.server.url}/ui#{view}?c=notes")
        # without a key this server refuses the page's first call: it says so and waits
        page.wait_for_function("window.embedlabUi && window.embedlabUi.ready === 'error'")
        if key is not None:
            page.fill("#api-key", key)
            page.click("#key-form button[type=submit]")
            page.wait_for_function("window.embedlabUi.ready !== false")
        return page

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def outside(self) -> list[str]:
        local = self.server.url + "/"
        return [url for url in self.requests if not url.startswith(local)]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, ui_server, screenshots) -> Iterator[Visit]:
    one = Visit(browser, ui_server, screenshots)
    try:
        yield one
        assert one.errors == [], one.errors  # no JavaScript error on the page
        assert one.outside() == [], one.outside()  # nothing but the server, ever
    finally:
        one.close()
