"""The web chat page (channels/web/index.html) in headless Chromium, at phone width, against the
intranet webhook of the real Rasa server: ask a question, see the answer with its sources."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.servers import ROOT, RasaServer

pytestmark = pytest.mark.servers
NOTE_FILES = {p.name for p in (ROOT / "notes").glob("*.md")}
PHONE = (390, 844)


def find(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    # Not a skip: the web chat would go untested. `make test` installs them (see the Makefile).
    raise RuntimeError(f"{' or '.join(names)} not found: install Debian's chromium and chromium-driver")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = find("chromium", "chromium-browser")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={PHONE[0]},{PHONE[1]}",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    # A phone's viewport, not just a narrow window (desktop Chrome keeps a 500 px minimum width).
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": PHONE[0], "height": PHONE[1], "pixelRatio": 2}}
    )
    driver = webdriver.Chrome(options=options, service=Service(find("chromedriver")))
    yield driver
    driver.quit()


def open_chat(browser: webdriver.Chrome, rasa: RasaServer, token: str) -> None:
    browser.get("about:blank")  # a new document: only the fragment differing would not reload the page
    browser.get(f"{rasa.url}/webhooks/intranet/chat#token={token}")
    WebDriverWait(browser, 10).until(ec.element_to_be_clickable((By.ID, "text")))


def ask(browser: webdriver.Chrome, message: str) -> None:
    box = browser.find_element(By.ID, "text")
    box.send_keys(message)
    box.send_keys(Keys.ENTER)


def test_question_answered_with_sources_at_phone_width(
    browser: webdriver.Chrome, rasa: RasaServer, tmp_path: Path
) -> None:
    open_chat(browser, rasa, rasa.intranet_tokens[0])
    assert "#token" not in browser.current_url  # the token left the address bar
    ask(browser, "ROUGE-N 衡量的是什么？")
    WebDriverWait(browser, 5).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".msg.bot .typing")))
    WebDriverWait(browser, 120).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".msg.bot .sources")))
    assert not browser.find_elements(By.CSS_SELECTOR, ".typing")
    answer = browser.find_elements(By.CSS_SELECTOR, ".msg.bot")[-1]
    links = answer.find_elements(By.CSS_SELECTOR, ".sources a.source")
    assert links, answer.text
    for link in links:
        file = link.text.split(" › ")[0].split(" (")[0]
        assert file in NOTE_FILES, link.text
        assert link.get_attribute("href").startswith(f"http://127.0.0.1:9/notes/{file}")
    body = answer.text.split("Sources:")[0]
    assert body.strip(), answer.text
    # The sources are shown once, as links, not also as the text's own list.
    assert "来源：\n-" not in answer.text and "Sources:\n-" not in answer.text
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"horizontal scrolling at phone width: {width}"
    browser.save_screenshot(str(tmp_path / "webchat.png"))
    assert (tmp_path / "webchat.png").stat().st_size > 10_000


def test_a_refused_token_asks_for_another(browser: webdriver.Chrome, rasa: RasaServer) -> None:
    open_chat(browser, rasa, "not-a-valid-token")
    ask(browser, "hello")
    WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "token")))
    note = browser.find_elements(By.CSS_SELECTOR, ".msg.note.error")[-1].text
    assert "token" in note.lower()
