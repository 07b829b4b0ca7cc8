"""The console's Team and Billing pages in a real browser (the same headless chromium as
tests/test_console_browser.py): an owner invites a colleague, who accepts and appears as a
member; roles change and the last owner cannot be demoted; a pack of minutes is bought
through (a local) Stripe Checkout and the balance shows it; a member sees that billing is
the owners' business.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, fake_stripe
from tests.live import LiveServer
from tests.team_support import as_user, join, last_token, team_server
from tests.test_api_support import PASSWORD, SmtpSink, User, api_server, register

# That module skips (before selenium is imported) where chromium is missing.
from tests.test_console_browser import EC, Browser, By, browser_driver  # noqa: F401 (a fixture)

PRICE_PRO = "price_pro_monthly"
Select = pytest.importorskip("selenium.webdriver.support.ui").Select


@pytest.fixture(scope="module")
async def stripe() -> AsyncIterator[FakeStripe]:
    async with fake_stripe() as fake:
        yield fake


@pytest.fixture(scope="module")
async def site(pg_url: str, stripe: FakeStripe) -> AsyncIterator[tuple[LiveServer, SmtpSink]]:
    async with team_server(pg_url, stripe_secret_key=SECRET_KEY,
                           stripe_webhook_secret=WEBHOOK_SECRET,
                           stripe_api_base=stripe.url, stripe_price_pro=PRICE_PRO) as (srv, sink):
        stripe.webhook_url = srv.url + "/api/stripe/webhook"
        yield srv, sink


@pytest.fixture(scope="module")
async def story(site: tuple[LiveServer, SmtpSink]) -> AsyncIterator[dict[str, Any]]:
    server, sink = site
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        client = await owner.create_client(name="Billing Dental", timezone="UTC")
        yield {"owner": owner, "client": client, "http": http, "sink": sink}


@pytest.fixture(scope="module")
async def browser(browser_driver: Any, site: tuple[LiveServer, SmtpSink]) -> Browser:  # noqa: F811
    return Browser(browser_driver, site[0].url)


async def sign_in(browser: Browser, email: str) -> None:
    await browser.do(browser.driver.delete_all_cookies)
    await browser.open("/console/login")
    await browser.ready()
    await browser.do((await browser.find("#email")).send_keys, email)
    await browser.do((await browser.find("#password")).send_keys, PASSWORD)
    await browser.click("#sign-in")
    await browser.until(EC.url_contains("/console/live"), what="the live calls page")
    await browser.ready()


async def choose(browser: Browser, css: str, value: str) -> None:
    select = Select(await browser.find(css))
    await browser.do(select.select_by_value, value)


async def text_of(browser: Browser, css: str, text: str, what: str) -> None:
    await browser.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text), what=what)


async def role_of(owner: User, user_id: int) -> str:
    members = await owner.get("/api/team/members")
    assert members.status_code == 200, members.text
    return next(m["role"] for m in members.json() if m["id"] == user_id)


async def test_an_owner_invites_a_colleague_who_joins_and_gets_a_new_role(browser, story):
    owner, sink = story["owner"], story["sink"]
    address = f"colleague.{owner.id}@example.com"
    await sign_in(browser, owner.email)
    await browser.open("/console/team")
    await browser.ready()
    await browser.find(f'#members tr[data-user-id="{owner.id}"]')
    assert await browser.js("return document.querySelectorAll('#permissions tbody tr').length") > 5

    await browser.do((await browser.find("#invite-form input[name=email]")).send_keys, address)
    await choose(browser, "#invite-form select[name=role]", "member")
    await browser.click("#invite-form button[type=submit]")
    await text_of(browser, "#team-status", f"Invitation e-mailed to {address}", "the invitation")
    await text_of(browser, "#invitations tbody", address, "the pending invitation")
    [invitation] = (await owner.get("/api/team/invitations")).json()
    assert (invitation["email"], invitation["role"], invitation["status"]) == (
        address, "member", "pending")

    # The colleague accepts through the API with the e-mailed link's token.
    token = last_token(sink, address)
    colleague = as_user(story["http"], await story["http"].post(
        f"/api/team/invitations/{token}/accept",
        json={"password": PASSWORD, "full_name": "Sam Colleague"}), address)
    story["colleague"] = colleague
    await browser.open("/console/team")
    await browser.ready()
    row = f'#members tr[data-user-id="{colleague.id}"]'
    await text_of(browser, row, "Sam Colleague", "the new member")
    await text_of(browser, f'#invitations tr[data-invitation-id="{invitation["id"]}"] .status',
                  "accepted", "the accepted invitation")

    # The owner makes them an admin.
    await choose(browser, f"{row} select.role-select", "admin")
    await browser.click(f"{row} button.save-role")
    await text_of(browser, "#team-status", f"{address} is now admin", "the role change")
    await text_of(browser, f"{row} td.role", "admin", "the new role in the list")
    assert await role_of(owner, colleague.id) == "admin"
    assert browser.severe_logs() == []

    # The only owner cannot demote themself: the API's 409 is shown, nothing changes.
    mine = f'#members tr[data-user-id="{owner.id}"]'
    await choose(browser, f"{mine} select.role-select", "member")
    await browser.click(f"{mine} button.save-role")
    refusal = await browser.until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, f"{mine} .errors")), what="the last-owner refusal")
    assert "last owner" in refusal.text
    assert await role_of(owner, owner.id) == "owner"
    assert all("409" in line for line in browser.severe_logs())   # the refused PUT, only


async def test_an_invitation_is_resent_and_revoked_and_a_member_removed(browser, story):
    owner, sink, http = story["owner"], story["sink"], story["http"]
    await sign_in(browser, owner.email)
    leaving = await join(owner, sink, "member", f"leaving.{owner.id}@example.com")
    address = f"undecided.{owner.id}@example.com"
    invited = await owner.post("/api/team/invite", json={"email": address, "role": "admin"})
    assert invited.status_code == 201, invited.text
    first_token = last_token(sink, address)
    await browser.open("/console/team")
    await browser.ready()

    row = f'#invitations tr[data-invitation-id="{invited.json()["id"]}"]'
    await browser.click(f"{row} button.resend")
    await text_of(browser, "#team-status", f"Invitation sent again to {address}", "the resend")
    assert last_token(sink, address) != first_token
    stale = await http.post(f"/api/team/invitations/{first_token}/accept",
                            json={"password": PASSWORD})
    assert stale.status_code == 404, stale.text            # the old link stopped working
    await browser.click(f"{row} button.revoke")
    await text_of(browser, f"{row} .status", "revoked", "the revoked invitation")
    assert not await browser.js("return document.querySelector(arguments[0])",
                                f"{row} button.resend")
    gone = await http.post(f"/api/team/invitations/{last_token(sink, address)}/accept",
                           json={"password": PASSWORD})
    assert gone.status_code == 410, gone.text

    member = f'#members tr[data-user-id="{leaving.id}"]'
    await browser.click(f"{member} button.remove-member")
    await text_of(browser, "#team-status", f"{leaving.email} was removed", "the removal")
    await browser.until(lambda d: not d.find_elements(By.CSS_SELECTOR, member),
                        what="the member to leave the list")
    members = (await owner.get("/api/team/members")).json()
    assert leaving.id not in [m["id"] for m in members]
    assert browser.severe_logs() == []


async def test_an_owner_buys_minutes_through_checkout_and_sees_the_balance(
        browser, story, stripe, site):
    owner, client = story["owner"], story["client"]
    await sign_in(browser, owner.email)
    await browser.open("/console/billing")
    await browser.ready()
    await text_of(browser, "#plan-name", "free", "the plan")
    before = (await owner.get("/api/billing/usage")).json()["balance_minutes"]   # the trial's
    await text_of(browser, "#balance-minutes", f"{before:g}", "the balance")
    assert "includes none" in (await browser.find("#usage-text")).text   # no bar on free
    await choose(browser, "#top-up-client", str(client["id"]))
    await browser.click('button.buy-pack[data-pack="minutes_100"]')

    # The browser is at Stripe's Checkout; opening it pays, and Stripe posts the webhook.
    await browser.until(EC.url_contains(f"{stripe.url}/pay/cs_test_"), what="Stripe Checkout")
    await text_of(browser, "body", "Payment complete", "the payment")
    sid = browser.driver.current_url.rsplit("/", 1)[1]
    session = stripe.sessions[sid]
    assert session["metadata"]["client_id"] == str(client["id"])
    assert stripe.delivered[-1][1] == 200
    back = session["success_url"].replace("{CHECKOUT_SESSION_ID}", sid)
    assert back.startswith(f"{site[0].settings.public_url}/console/billing?checkout=success")

    parts = urlsplit(back)      # Stripe sends the buyer back to the success URL
    await browser.open(f"{parts.path}?{parts.query}")
    await browser.ready()
    await text_of(browser, "#checkout-notice", "Payment received", "the return notice")
    await text_of(browser, "#balance-minutes", f"{before + 100:g}", "the bought minutes")
    usage = (await owner.get("/api/billing/usage")).json()
    assert usage["balance_minutes"] == before + 100

    await browser.open("/console/billing?checkout=cancelled")
    await browser.ready()
    await text_of(browser, "#checkout-notice", "Checkout was cancelled", "the cancelled notice")
    assert browser.severe_logs() == []


async def test_an_owner_subscribes_from_the_billing_page_then_cancels(browser, story, stripe):
    owner = story["owner"]
    await sign_in(browser, owner.email)
    await browser.open("/console/billing")
    await browser.ready()
    before = (await owner.get("/api/billing/usage")).json()["balance_minutes"]
    await browser.click('#plan tr[data-plan="pro"] button.subscribe')
    await browser.until(EC.url_contains(f"{stripe.url}/pay/cs_test_"), what="Stripe Checkout")
    await text_of(browser, "body", "Payment complete", "the payment")
    sid = browser.driver.current_url.rsplit("/", 1)[1]
    assert stripe.sessions[sid]["mode"] == "subscription"
    assert all(status == 200 for _, status in stripe.delivered[-3:])

    await browser.open(f"/console/billing?checkout=success&session_id={sid}")
    await browser.ready()
    await text_of(browser, "#plan-name", "pro", "the new plan")
    await text_of(browser, "#subscription-status", "active", "the subscription")
    await text_of(browser, "#balance-minutes", f"{before + 1000:g}", "the plan's minutes")
    bar = await browser.find("#usage-bar")
    assert bar.get_attribute("max") == "100" and float(bar.get_attribute("value")) == 0
    assert "of 1000 included minutes" in (await browser.find("#usage-text")).text
    assert not await browser.js("return document.querySelector('button.subscribe')")
    [invoice] = [i for i in stripe.invoices if i["customer"] == stripe.sessions[sid]["customer"]]
    row = await browser.find(f'#invoices tr[data-invoice-id="{invoice["id"]}"]')
    assert invoice["number"] in row.text and "$99.00" in row.text and "paid" in row.text

    await browser.click("#cancel-subscription")
    await text_of(browser, "#plan", "cancelled: ends", "the cancellation")
    sub = (await owner.get("/api/billing/subscription")).json()
    assert sub["cancel_at_period_end"] is True and sub["plan"] == "pro"
    assert browser.severe_logs() == []


async def test_without_stripe_the_billing_page_says_billing_is_not_configured(
        browser_driver, pg_url):  # noqa: F811
    async with api_server(pg_url) as bare, httpx.AsyncClient(base_url=bare.url) as http:
        owner = await register(http)
        await owner.create_client(name="Unbilled Dental")
        browser = Browser(browser_driver, bare.url)
        await sign_in(browser, owner.email)
        await browser.open("/console/billing")
        await browser.ready()
        await browser.click('button.buy-pack[data-pack="minutes_500"]')
        await text_of(browser, "#billing-not-configured",
                      "Billing is not configured on this server", "the not-configured state")
        assert "STRIPE_SECRET_KEY" in (await browser.find("#billing-errors")).text
        assert browser.driver.current_url.startswith(bare.url + "/console/billing")
        await browser.do(browser.driver.delete_all_cookies)


async def test_a_member_sees_billing_is_for_owners_and_no_team_controls(browser, story):
    owner, colleague = story["owner"], story.get("colleague")
    assert colleague, "runs after the colleague joined"
    demoted = await owner.put(f"/api/team/members/{colleague.id}/role", json={"role": "member"})
    assert demoted.status_code == 200, demoted.text
    await sign_in(browser, colleague.email)
    await browser.open("/console/billing")
    await browser.ready()
    await text_of(browser, "#billing-refused", "Only the organisation's owners see billing",
                  "the owners-only message")
    assert not await browser.js("return document.querySelector('button.buy-pack')")

    await browser.open("/console/team")
    await browser.ready()
    await browser.find(f'#members tr[data-user-id="{owner.id}"]')
    await browser.find("#team-read-only")
    assert not await browser.js("return document.querySelector('#invite-form, button.save-role,"
                                " button.remove-member, button.revoke')")


async def test_write_actions_refused_after_a_demotion_show_the_apis_message(browser, story):
    """The page drew its controls for an owner; the server, not the page, decides."""
    owner, colleague = story["owner"], story["colleague"]
    promoted = await owner.put(f"/api/team/members/{colleague.id}/role", json={"role": "owner"})
    assert promoted.status_code == 200, promoted.text
    await sign_in(browser, colleague.email)
    await browser.open("/console/team")
    await browser.ready()
    await browser.find("#invite-form")
    # Meanwhile the first owner makes them a member again.
    demoted = await owner.put(f"/api/team/members/{colleague.id}/role", json={"role": "member"})
    assert demoted.status_code == 200, demoted.text
    await browser.do((await browser.find("#invite-form input[name=email]")).send_keys,
                     "late@example.com")
    await browser.click("#invite-form button[type=submit]")
    refusal = await browser.until(EC.visibility_of_element_located(
        (By.CSS_SELECTOR, "#invite-form .errors")), what="the API's 403")
    assert "manage:team" in refusal.text or "permission" in refusal.text
