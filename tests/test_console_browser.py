"""The console in a real browser (Debian's chromium through chromium-driver, headless):
sign in, watch a call live with its transcript, end it from the console, play its
recording, move an appointment, read the analytics.

The browser is driven from a worker thread, so the server and the fake caller keep
running in the test's event loop while it waits.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from db.pool import create_pool
from tests.caller import FakeCall
from tests.live import LiveServer, live_server
from tests.providers import ScriptedProviders
from tests.test_api_support import PASSWORD, User, register
from tests.waiting import ended, until

pytest.importorskip("piper")
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.test_call_behaviour import said  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CALLER_LINE = "Hello there"
WAIT_SECONDS = 30

if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
    pytest.skip("needs Debian's chromium and chromium-driver (make test installs them)",
                allow_module_level=True)


class Browser:
    """One headless chromium; every call runs in a thread, off the event loop."""

    def __init__(self, driver: Any, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    async def do(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def open(self, path: str) -> None:
        await self.do(self.severe_logs)    # what earlier pages logged is theirs
        await self.do(self.driver.get, self.base_url + path)

    async def until(self, condition: Callable[[Any], Any], *, within: float = WAIT_SECONDS,
                    what: str = "") -> Any:
        wait = WebDriverWait(self.driver, within, poll_frequency=0.1,
                             ignored_exceptions=[StaleElementReferenceException,
                                                 NoSuchElementException,
                                                 ElementNotInteractableException])
        try:
            return await self.do(wait.until, condition, what)
        except TimeoutException:
            # Say what the page showed and logged: a timeout alone tells nothing.
            page = await self.do(lambda: self.driver.find_element(By.TAG_NAME, "body").text)
            raise AssertionError(f"timed out waiting for {what} at {self.driver.current_url}\n"
                                 f"page: {page[:2000]}\nlogs: {self.severe_logs()}") from None

    async def ready(self) -> None:
        await self.until(lambda d: d.find_element(By.TAG_NAME, "body")
                         .get_attribute("data-ready") == "true", what="the page to draw")

    async def find(self, css: str) -> Any:
        return await self.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)),
                                what=css)

    async def click(self, css: str) -> None:
        """Click what ``css`` finds, finding it again if the page redrew it meanwhile."""
        def clicked(driver: Any) -> bool:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return True

        await self.until(clicked, what=f"to click {css}")

    async def js(self, script: str, *args: Any) -> Any:
        return await self.do(self.driver.execute_script, script, *args)

    def severe_logs(self) -> list[str]:
        """The errors logged since the last call (a CSP refusal, a failed request...)."""
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def browser_driver() -> Iterator[Any]:
    os.environ.setdefault("SE_OFFLINE", "true")   # Selenium Manager must fetch nothing
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
async def server(pg_url: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[LiveServer]:
    async with live_server(pg_url, providers=ScriptedProviders([CALLER_LINE]),
                           frontdesk_home=tmp_path_factory.mktemp("home"),
                           rate_limit_requests=10_000, auth_rate_limit_requests=10_000) as srv:
        yield srv


@pytest.fixture(scope="module")
async def db(pg_url: str) -> AsyncIterator[asyncpg.Pool]:
    # Not the truncating ``pool`` fixture: the browser's session lives across the tests.
    pool = await create_pool(pg_url, min_size=1, max_size=3)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def story(server: LiveServer) -> AsyncIterator[dict[str, Any]]:
    """The owner, their client (recording on), and what the tests found along the way."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        client = await owner.create_client(name="Console Dental", timezone="UTC")
        response = await owner.put(f"/api/clients/{client['id']}/settings/recording",
                                   json={"value": True})
        assert response.status_code == 200, response.text
        yield {"owner": owner, "client": client}


@pytest.fixture(scope="module")
async def browser(browser_driver: Any, server: LiveServer) -> Browser:
    return Browser(browser_driver, server.url)


async def api(owner: User, path: str) -> dict[str, Any]:
    response = await owner.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_operator_signs_in_through_the_form(browser, story):
    owner = story["owner"]
    await browser.open("/console/live")
    await browser.until(EC.url_contains("/console/login"), what="the sign-in page")
    email = await browser.find("#email")
    await browser.do(email.send_keys, owner.email)
    await browser.do((await browser.find("#password")).send_keys, "wrong password")
    await browser.click("#sign-in")
    refused = await browser.until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#login-form .errors")), what="the refusal")
    assert refused.text
    password = await browser.find("#password")
    await browser.do(password.clear)
    await browser.do(password.send_keys, PASSWORD)
    await browser.click("#sign-in")
    await browser.until(EC.url_contains("/console/live"), what="the live calls page")
    await browser.ready()
    assert owner.email in (await browser.find("#who")).text
    cookies = {c["name"]: c for c in await browser.do(browser.driver.get_cookies)}
    assert cookies["fd_access"]["httpOnly"] and not cookies["fd_csrf"]["httpOnly"]


async def test_a_call_is_watched_live_and_ended_from_the_console(browser, server, story, db):
    owner, client = story["owner"], story["client"]
    await browser.open("/console/live")
    await browser.ready()
    await browser.until(lambda d: d.find_element(By.ID, "stream-state")
                        .get_attribute("data-state") == "connected", what="the event stream")

    call = FakeCall(server.url, to=client["phone_number"])
    await call.dial()
    await call.connect()
    card = f'article[data-call-sid="{call.call_sid}"]'
    await call.wait_for_agent()                          # the greeting
    await browser.find(card)
    assert call.caller in (await browser.find(f"{card} .caller")).text
    assert "Console Dental" in (await browser.find(f"{card} .client")).text

    # The caller speaks; their line and the agent's answer appear while the call runs.
    speaking = asyncio.ensure_future(call.play(said(CALLER_LINE)))
    line = await browser.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f'{card} li.turn[data-role="user"]')), what="the caller's line")
    assert CALLER_LINE in line.text
    await speaking
    await call.until_quiet()
    await browser.until(EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, f"{card} ol.transcript"), f"You said: {CALLER_LINE}."),
        what="the agent's answer")
    assert not call.closed
    [row] = (await api(owner, f"/api/calls?status=active&client_id={client['id']}"))["items"]
    assert row["call_sid"] == call.call_sid
    lines = await browser.js(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.dataset.role)",
        f"{card} li.turn")
    assert lines == ["assistant", "user", "assistant"]
    duration = (await browser.find(f"{card} .duration")).text
    assert duration.endswith("s")

    # End it from the console: the agent says goodbye, then hangs up.
    heard = call.media_count()
    line_open = asyncio.ensure_future(call.wait_closed())
    await browser.click(f"{card} button.end-call")
    await line_open
    conv = await ended(db, call.call_sid)
    assert conv.end_reason == "operator_ended"
    assert call.media_count() > heard
    detail = await api(owner, f"/api/calls/{conv.id}")
    assert detail["status"] == "ended" and detail["live"] is False
    assert "Goodbye" in detail["transcript"][-1]["content"]
    await browser.until(EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, f"{card} .badge"), "ended: operator ended"), what="the card to end")
    assert "Goodbye" in (await browser.find(f"{card} ol.transcript")).text
    assert await browser.js("return document.querySelector(arguments[0]).closest('section').id",
                            card) == "ended-calls"
    story["call_id"] = conv.id
    assert browser.severe_logs() == []


async def test_a_call_is_transferred_from_the_console(browser, server, story, db):
    client = story["client"]
    await browser.open("/console/live")
    await browser.ready()
    call = FakeCall(server.url, to=client["phone_number"])
    await call.dial()
    await call.connect()
    card = f'article[data-call-sid="{call.call_sid}"]'
    line_open = asyncio.ensure_future(call.wait_for_agent())
    await browser.find(f"{card} input.transfer-to")
    await line_open
    # A number the API refuses: its message, and the call goes on.
    await browser.do((await browser.find(f"{card} input.transfer-to")).send_keys, "nope")
    await browser.click(f"{card} button.transfer")
    refusal = await browser.until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, f"{card} .errors")), what="the API's refusal")
    assert refusal.text and not server.twilio.redirects(call.call_sid)
    target = await browser.find(f"{card} input.transfer-to")
    await browser.do(target.clear)
    await browser.do(target.send_keys, "+1 415 555 0142")
    line_open = asyncio.ensure_future(call.until_quiet())
    await browser.click(f"{card} button.transfer")
    await browser.until(EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, f"{card} .badge"), "transferring"), what="the transfer to start")
    await line_open

    async def redirected() -> list:
        return server.twilio.redirects(call.call_sid)

    redirect = (await until(redirected, what="the REST redirect"))[0]
    assert "<Dial>+14155550142</Dial>" in redirect["form"]["Twiml"]
    await call.hang_up()                      # Twilio ends the stream once it dials
    conv = await ended(db, call.call_sid)
    assert conv.end_reason == "transferred" and conv.transferred_to == "+14155550142"
    await browser.until(EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, f"{card} .badge"), "ended: transferred"), what="the card to end")


async def test_the_history_shows_the_call_and_plays_its_recording(browser, story):
    assert "call_id" in story, "runs after the live call"
    call_id = story["call_id"]
    await browser.open(f"/console/calls?client_id={story['client']['id']}")
    await browser.ready()
    await browser.find(f'#call-list tr[data-call-id="{call_id}"]')
    await browser.click(f'tr[data-call-id="{call_id}"] a')
    await browser.until(EC.url_contains(f"/console/calls/{call_id}"), what="the call's page")
    await browser.ready()
    transcript = (await browser.find("#transcript")).text
    assert CALLER_LINE in transcript and "Goodbye" in transcript
    assert (await browser.find("#latency tbody tr")).text
    audio = await browser.find("audio#recording")
    assert (await browser.do(audio.get_attribute, "src")).startswith(
        f"{browser.base_url}/api/recordings/")
    await browser.until(lambda d: d.execute_script(
        "const a = document.getElementById('recording');"
        " return a.readyState >= 1 && a.duration > 0"), what="the recording to load")
    duration = await browser.js("return document.getElementById('recording').duration")
    assert duration > 1.0
    played = await browser.js(
        "const a = document.getElementById('recording'); a.muted = true;"
        " return a.play().then(() => true, (e) => String(e))")
    assert played is True
    await browser.until(lambda d: d.execute_script(
        "return document.getElementById('recording').currentTime > 0"), what="playback")
    assert browser.severe_logs() == []


def weekday_ahead(days: int = 8) -> date:
    day = date.today() + timedelta(days=days)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


async def test_an_appointment_moved_in_the_console_is_moved_in_the_api(browser, story):
    owner, client = story["owner"], story["client"]
    day = weekday_ahead()
    first = datetime.combine(day, time(10), tzinfo=UTC)
    later = datetime.combine(day, time(14), tzinfo=UTC)
    created = await owner.post("/api/calendar/appointments", json={
        "client_id": client["id"], "starts_at": first.isoformat(), "name": "Ada Lovelace",
        "phone": "+14155550123"})
    assert created.status_code == 201, created.text
    appt = created.json()

    await browser.open(f"/console/appointments?date={day.isoformat()}&view=week")
    await browser.ready()
    row = f'li.appointment[data-appointment-id="{appt["id"]}"]'
    await browser.click(f"{row} button.move-open")
    target = await browser.find(f"{row} input.move-to")
    # The field takes the browser's local time, as a person would type it.
    local = await browser.js(
        "const d = new Date(arguments[0]), p = (n) => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`"
        " + `T${p(d.getHours())}:${p(d.getMinutes())}`", later.isoformat())
    await browser.js("arguments[0].value = arguments[1]", target, local)
    await browser.click(f"{row} button.save-move")
    await browser.until(EC.text_to_be_present_in_element(
        (By.ID, "appointment-status"), "Moved Ada Lovelace"), what="the move")

    moved = await api(owner, f"/api/calendar/appointments/{appt['id']}")
    assert datetime.fromisoformat(moved["starts_at"].replace("Z", "+00:00")) == later
    assert [c["action"] for c in moved["changes"]][-1] == "rescheduled"

    # A time the API refuses shows the API's own words next to the form.
    await browser.click(f"{row} button.move-open")
    target = await browser.find(f"{row} input.move-to")
    await browser.js("arguments[0].value = arguments[1]", target,
                     f"{(day - timedelta(days=30)).isoformat()}T10:00")
    await browser.click(f"{row} button.save-move")
    refusal = await browser.until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, f"{row} .errors")), what="the API's refusal")
    assert refusal.text
    still = await api(owner, f"/api/calendar/appointments/{appt['id']}")
    assert still["starts_at"] == moved["starts_at"]


async def test_a_client_setting_refused_by_the_api_shows_its_message(browser, story):
    client = story["client"]
    await browser.open(f"/console/clients?id={client['id']}")
    await browser.ready()
    form = '#agent-settings form[data-key="max_call_duration"]'
    field = await browser.find(f"{form} input")
    await browser.js("arguments[0].value = '-5'", field)
    await browser.click(f"{form} button[type=submit]")
    refusal = await browser.until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, f"{form} .errors")), what="the API's validation message")
    assert refusal.text


async def test_the_analytics_count_the_call_and_draw_their_charts(browser, story):
    assert "call_id" in story, "runs after the live call"
    await browser.open(f"/console/analytics?client_id={story['client']['id']}&days=7")
    await browser.ready()
    calls = await browser.find("#stat-calls .value")
    stats = await api(story["owner"], f"/api/analytics/stats?client_id={story['client']['id']}"
                                      "&days=7")
    assert stats["calls"] >= 1 and calls.text == str(stats["calls"])   # the calls made here
    minutes = (await browser.find("#stat-minutes .value")).text
    assert float(minutes) > 0
    bars = await browser.js("return document.querySelectorAll('#chart-calls rect.bar').length")
    assert bars == 7
    heights = await browser.js(
        "return [...document.querySelectorAll('#chart-calls rect.bar')]"
        ".map(r => Number(r.getAttribute('height')))")
    assert max(heights) > 0
    hours = await browser.js("return document.querySelectorAll('#chart-hours rect.bar').length")
    assert hours == 24
    assert await browser.js("return document.querySelectorAll('figure.chart svg').length") == 8
    assert browser.severe_logs() == []


async def test_every_page_draws_without_errors_and_a_key_is_made_in_a_form(browser, story):
    for page in ("live", "calls", "appointments", "contacts", "clients", "keys", "webhooks",
                 "analytics", "team", "billing"):
        await browser.open(f"/console/{page}")
        await browser.ready()
        current = await browser.find('header.top nav a[aria-current="page"]')
        assert current.get_attribute("href").endswith(f"/console/{page}")
        assert browser.severe_logs() == [], page
    await browser.open("/console/keys")
    await browser.ready()
    await browser.do((await browser.find("#new-key-form input[name=name]")).send_keys,
                     "CRM sync")
    await browser.click("#new-key-form button[type=submit]")
    secret = await browser.find("#new-key")
    assert secret.text.startswith("fd_")
    keys = await api(story["owner"], "/api/api-keys")
    assert [k["name"] for k in keys] == ["CRM sync"]
    assert all(s.startswith("read:") for s in keys[0]["scopes"])
    # The key works, and a signed-out browser is sent back to sign in.
    async with httpx.AsyncClient(base_url=browser.base_url) as http:
        me = await http.get("/api/calls", headers={"X-API-Key": secret.text})
        assert me.status_code == 200
    await browser.click("#sign-out")
    await browser.until(EC.url_contains("/console/login"), what="the sign-in page")
    await browser.open("/console/calls")
    await browser.until(EC.url_contains("/console/login?next="), what="sign-in again")
