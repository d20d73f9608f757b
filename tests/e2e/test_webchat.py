"""The web chat page (channels/web/index.html) in headless Chromium, at phone width, against the
intranet webhook of the real Rasa server: ask a question, see the answer with its sources; the page
runs under its Content-Security-Policy, links only http(s) URLs from replies, will not be framed by
another origin, and asks before a link swaps its token."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations land there
    driver = webdriver.Chrome(options=options, service=Service(find("chromedriver")))
    # The browser is a client of its own (X-Forwarded-For is trusted from loopback): its refused
    # tokens count against its address, not against the loopback's budget of failed authentications.
    n = uuid.uuid4().int
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders",
        {"headers": {"X-Forwarded-For": f"2001:db8:{n & 0xFFFF:x}:{n >> 16 & 0xFFFF:x}::7"}},
    )
    yield driver
    driver.quit()


def chat_url(rasa: RasaServer) -> str:
    return f"{rasa.url}/webhooks/intranet/chat"


def open_chat(browser: webdriver.Chrome, rasa: RasaServer, token: str) -> None:
    """A fresh page holding `token` (any token kept from an earlier test is dropped first)."""
    browser.get(chat_url(rasa))
    browser.execute_script("sessionStorage.clear()")
    browser.get("about:blank")  # a new document: only the fragment differing would not reload the page
    browser.get(f"{chat_url(rasa)}#token={token}")
    WebDriverWait(browser, 10).until(ec.element_to_be_clickable((By.ID, "text")))


def ask(browser: webdriver.Chrome, message: str) -> None:
    box = browser.find_element(By.ID, "text")
    box.send_keys(message)
    box.send_keys(Keys.ENTER)


def stored_token(browser: webdriver.Chrome) -> str | None:
    return browser.execute_script("return sessionStorage.getItem('notes-token')")


def console_errors(browser: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_question_answered_with_sources_at_phone_width(
    browser: webdriver.Chrome, rasa: RasaServer, tmp_path: Path
) -> None:
    browser.get_log("browser")  # start from an empty console
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
        assert link.get_attribute("rel") == "noopener noreferrer"
    body = answer.text.split("Sources:")[0]
    assert body.strip(), answer.text
    # The sources are shown once, as links, not also as the text's own list.
    assert "来源：\n-" not in answer.text and "Sources:\n-" not in answer.text
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"horizontal scrolling at phone width: {width}"
    browser.save_screenshot(str(tmp_path / "webchat.png"))
    assert (tmp_path / "webchat.png").stat().st_size > 10_000
    # All of it ran under the page's Content-Security-Policy (script and style by hash, Trusted
    # Types on): a violation would be in the console.
    violations = [m for m in console_errors(browser) if "Content Security Policy" in m or "TrustedHTML" in m]
    assert not violations, violations


def test_a_refused_token_asks_for_another(browser: webdriver.Chrome, rasa: RasaServer) -> None:
    open_chat(browser, rasa, "not-a-valid-token")
    ask(browser, "hello")
    WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "token")))
    note = browser.find_elements(By.CSS_SELECTOR, ".msg.note.error")[-1].text
    assert "token" in note.lower()


# What a reply could carry if the notes, an action or a custom payload were ever hostile.
HOSTILE_REPLY = [
    {
        "recipient_id": "x",
        "text": "links below",
        "image": "javascript:alert('image')",
        "custom": {
            "sources": [
                {"file": "evil.md", "heading": "", "lines": "1-2", "url": "javascript:alert('source')"},
                {
                    "file": "data.md",
                    "heading": "",
                    "lines": "1-2",
                    "url": "data:text/html,<script>alert(1)</script>",
                },
                {"file": "relative.md", "heading": "", "lines": "1-2", "url": "/webhooks/intranet/chat"},
                {
                    "file": "good.md",
                    "heading": "",
                    "lines": "3-4",
                    "url": "https://git.example/notes/good.md#L3-4",
                },
            ]
        },
        "buttons": [
            {"title": "evil link", "type": "web_url", "url": "javascript:alert('button')"},
            {"title": "vb link", "type": "web_url", "url": " vbscript:msgbox(1)"},
            {"title": "good link", "type": "web_url", "url": "http://intranet.example/page"},
            {"title": "Yes", "payload": "/affirm"},
        ],
    },
    {"recipient_id": "x", "text": "an image", "image": "https://intranet.example/chart.png"},
]


def test_links_from_replies_are_only_http_or_https(browser: webdriver.Chrome, rasa: RasaServer) -> None:
    open_chat(browser, rasa, rasa.intranet_tokens[0])
    # The reply is stubbed in the page (the real server never sends this): what the page makes of it.
    browser.execute_script(
        "const reply = arguments[0], headers = {'Content-Type': 'application/json'};"
        "window.fetch = async () => new Response(reply, {status: 200, headers});",
        json.dumps(HOSTILE_REPLY),
    )
    ask(browser, "show me links")
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".msg.bot .sources")))
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#log a")]
    assert sorted(hrefs) == [
        "http://intranet.example/page",
        "https://git.example/notes/good.md#L3-4",
        "https://intranet.example/chart.png",
    ]
    # Unsafe sources are still named, as plain text; the payload button still works as a button.
    sources = browser.find_elements(By.CSS_SELECTOR, ".sources .source")
    assert [s.tag_name for s in sources] == ["span", "span", "span", "a"]
    assert [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".msg.bot .buttons button")] == ["Yes"]
    assert "evil link" not in browser.find_element(By.ID, "log").text


def hash_token(browser: webdriver.Chrome, token: str) -> None:
    """A link to the page with another token, followed in the open tab (a hashchange)."""
    browser.execute_script("location.hash = 'token=' + arguments[0]", token)


def test_a_different_token_in_a_link_is_taken_only_when_confirmed(
    browser: webdriver.Chrome, rasa: RasaServer
) -> None:
    mine, theirs = rasa.intranet_tokens[0], rasa.intranet_tokens[1]
    open_chat(browser, rasa, mine)
    hash_token(browser, theirs)
    prompt = WebDriverWait(browser, 5).until(ec.alert_is_present())
    assert "token" in prompt.text.lower()
    prompt.dismiss()
    assert stored_token(browser) == mine
    assert "token=" not in browser.current_url  # the fragment is gone either way
    hash_token(browser, theirs)
    WebDriverWait(browser, 5).until(ec.alert_is_present()).accept()
    assert stored_token(browser) == theirs
    hash_token(browser, theirs)  # the same token again: nothing to ask
    with pytest.raises(TimeoutException):
        WebDriverWait(browser, 1).until(ec.alert_is_present())
    assert stored_token(browser) == theirs


def frame_chat(browser: webdriver.Chrome, origin: str, rasa: RasaServer) -> None:
    """Rasa's root page (plain text, no policy of its own) at `origin`, framing the chat page."""
    browser.get(f"{origin}/")
    browser.get_log("browser")
    browser.execute_script(
        "const frame = document.createElement('iframe'); frame.id = 'chat'; frame.src = arguments[0];"
        "document.body.appendChild(frame);",
        chat_url(rasa),
    )


def test_the_page_is_framed_by_its_own_origin_only(browser: webdriver.Chrome, rasa: RasaServer) -> None:
    # localhost and 127.0.0.1 are two origins: an intranet portal elsewhere is refused by default
    # (INTRANET_FRAME_ANCESTORS names the ones allowed).
    other = rasa.url.replace("127.0.0.1", "localhost")
    assert other != rasa.url
    frame_chat(browser, other, rasa)
    seen: list[str] = []

    def refused(driver: webdriver.Chrome) -> bool:
        seen.extend(console_errors(driver))
        return any("frame-ancestors" in message for message in seen)

    WebDriverWait(browser, 10).until(refused)
    frame_chat(browser, rasa.url, rasa)
    loaded = (
        "const d = document.getElementById('chat').contentDocument; return !!(d && d.getElementById('text'));"
    )
    WebDriverWait(browser, 10).until(lambda driver: driver.execute_script(loaded))
