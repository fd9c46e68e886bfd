"""The back-office in a real browser (issue 10): Chromium, driven by Playwright, against the real
server (gunicorn on a loopback port, tests/e2e_server.py). An operator logs in, creates and activates a
merchant and an offer, confirms and reverses purchases, approves a payout and marks it paid, opens the
liabilities dashboard and runs "reconcile now" — and after each step the test reads what the page shows.

When no Chromium is found the tests skip with the reason (`make test` says so too). On failure a
screenshot of the page is saved and its path printed."""

import datetime as dt
import os
import re
import sys
import tempfile
import uuid
from decimal import Decimal

import pytest

from tests.browser import CHROMIUM_ARGS, NO_CHROMIUM, NO_PLAYWRIGHT, browser_tests_required, chromium_path
from tests.e2e_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Str0ng!Passw0rd"
D = Decimal


@pytest.fixture(scope="module")
def browser():
    not_run = pytest.fail if browser_tests_required() else pytest.skip
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        not_run(NO_PLAYWRIGHT)
    executable = chromium_path()
    if executable is None:
        not_run(NO_CHROMIUM)
    # Playwright's sync API keeps an event loop in this thread, so Django would refuse every ORM call
    # of the tests and of their database fixtures; those stay synchronous, one at a time.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, browser):
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("collectstatic", "--noinput", verbosity=0)  # gunicorn serves them (whitenoise)
    live = LiveServer()
    yield live
    live.stop()


@pytest.fixture
def page(request, browser, server):
    context = browser.new_context(base_url=server.base, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        shot = os.path.join(tempfile.mkdtemp(prefix="clicknback-browser-"), f"{request.node.name}.png")
        tab.screenshot(path=shot, full_page=True)
        print(f"\nbrowser test failed on {tab.url}; screenshot: {shot}", file=sys.__stderr__)
    context.close()


@pytest.fixture
def operator(transactional_db):
    from accounts import services

    return services.create_account(email="ops@example.com", password=PASSWORD, role="admin")


# --- what an operator does, and what the page then shows -------------------------------------------------


def submit(page, selector: str) -> None:
    """Click what submits a form or follows a link, and wait for the page it loads."""
    with page.expect_navigation():
        page.click(selector)


def log_in(page, email="ops@example.com", password=PASSWORD):
    page.goto("/admin/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    submit(page, 'input[type="submit"]')


def messages(page) -> list[str]:
    return [text.strip() for text in page.locator("ul.messagelist li").all_inner_texts()]


def row(page, text: str):
    """The changelist row that shows `text`."""
    return page.locator("#result_list tbody tr", has_text=text)


def cell(page, text: str, field: str) -> str:
    return row(page, text).locator(f"td.field-{field}, th.field-{field}").inner_text().strip()


def boolean_cell(page, text: str, field: str) -> str:
    return row(page, text).locator(f"td.field-{field} img").get_attribute("alt")


def run_action(page, changelist: str, text: str, action: str):
    """Tick the row showing `text` on `changelist`, choose `action`, press Go."""
    page.goto(changelist)
    row(page, text).locator('input[name="_selected_action"]').check()
    page.select_option('select[name="action"]', action)
    submit(page, 'button[name="index"]')


def test_the_operator_logs_in_and_a_wrong_password_is_refused(page, operator):
    log_in(page, password="wrong-password-1")
    assert "Please enter the correct email and password" in page.locator(".errornote").inner_text()
    assert page.url.endswith("/admin/login/")

    log_in(page)
    assert page.locator("#site-name").is_visible()
    assert "Site administration" in page.locator("h1").inner_text()
    assert "ops@example.com".upper() in page.locator("#user-tools").inner_text().upper()
    for section in ("Merchants", "Offers", "Purchases", "Payouts"):
        assert page.get_by_role("link", name=section, exact=True).first.is_visible(), section


def test_the_operator_creates_and_activates_a_merchant_and_an_offer(page, operator):
    from merchants.models import Merchant
    from offers.models import Offer

    log_in(page)
    page.goto("/admin/merchants/merchant/add/")
    page.fill("#id_name", "Browser Books")
    page.fill("#id_default_cashback_percentage", "4.50")
    page.uncheck("#id_active")
    submit(page, 'input[name="_save"]')
    assert any("was added successfully" in m for m in messages(page)), messages(page)
    assert boolean_cell(page, "Browser Books", "active") == "False"

    run_action(page, "/admin/merchants/merchant/", "Browser Books", "activate")
    assert "1 succeeded, 0 failed." in messages(page)
    assert boolean_cell(page, "Browser Books", "active") == "True"
    assert Merchant.objects.get(name="Browser Books").active

    today = dt.datetime.now(dt.UTC).date()
    page.goto("/admin/offers/offer/add/")
    page.select_option("#id_merchant", label="Browser Books")
    page.select_option("#id_cashback_type", "percent")
    page.fill("#id_cashback_value", "5")
    page.fill("#id_start_date", today.isoformat())
    page.fill("#id_end_date", (today + dt.timedelta(days=30)).isoformat())
    page.fill("#id_monthly_cap", "50")
    page.uncheck("#id_active")
    submit(page, 'input[name="_save"]')
    assert any("was added successfully" in m for m in messages(page)), messages(page)
    assert boolean_cell(page, "Browser Books", "active") == "False"
    assert boolean_cell(page, "Browser Books", "live_now") == "False"

    run_action(page, "/admin/offers/offer/", "Browser Books", "activate")
    assert "1 succeeded, 0 failed." in messages(page)
    assert boolean_cell(page, "Browser Books", "active") == "True"
    assert boolean_cell(page, "Browser Books", "live_now") == "True"
    assert cell(page, "Browser Books", "cashback_value") == "5.00"
    offer = Offer.objects.get(merchant__name="Browser Books")
    assert offer.active and offer.monthly_cap_per_user == D("50.00")

    # The merchant's list now links its active offer.
    page.goto("/admin/merchants/merchant/")
    assert cell(page, "Browser Books", "current_offer") != "—"


def test_the_operator_settles_purchases_and_a_payout_then_reads_the_dashboard_and_reconciles(page, operator):
    from accounts import services as accounts
    from clicknback.audit.services import Actor
    from merchants.tests.factories import MerchantFactory
    from offers import services as offers
    from payouts import services as payouts
    from payouts.views import render_payout
    from purchases import services as purchases
    from wallets.models import Wallet

    # The user's side, as the API would do it: a live offer of 10.00 per purchase, two purchases.
    today = dt.datetime.now(dt.UTC).date()
    merchant = MerchantFactory(name="Browser Garden")
    offers.create_offer(merchant_id=merchant.pk, cashback_type="fixed", cashback_value=D("10.00"), start_date=today,
                        end_date=today + dt.timedelta(days=30), monthly_cap=D("500.00"), actor=Actor.system())
    shopper = accounts.create_account(email="shopper@example.com", password=PASSWORD)
    ids = [f"BRW-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for external_id in ids:
        purchases.ingest_purchase(user_id=shopper.pk, merchant_id=merchant.pk, external_id=external_id,
                                  amount=D("80.00"), currency="EUR", actor=Actor.of_user(shopper))
    keep, reverse = ids

    log_in(page)
    # Confirm one purchase: its cashback becomes available.
    run_action(page, "/admin/purchases/purchase/", keep, "confirm")
    assert "1 succeeded, 0 failed." in messages(page)
    assert cell(page, keep, "status") == "Confirmed"
    assert cell(page, reverse, "status") == "Pending"

    # Reverse the other one, through the confirmation page with a reason.
    run_action(page, "/admin/purchases/purchase/", reverse, "reverse")
    assert "You are about to apply" in page.locator("#content").inner_text()
    assert reverse in page.locator("#content ul").inner_text()
    page.fill("#id_reason", "Order cancelled by the shop")
    submit(page, 'input[value="Confirm"]')
    assert "1 succeeded, 0 failed." in messages(page)
    assert cell(page, reverse, "status") == "Reversed"
    assert cell(page, keep, "status") == "Confirmed"

    wallet = Wallet.objects.get(user=shopper)
    assert (wallet.pending_balance, wallet.available_balance) == (D("0.00"), D("10.00"))

    # The shopper asks for the 10.00; the operator approves it, then marks it paid with a reference.
    payouts.request_payout(user=shopper, amount=D("10.00"), method="bank_transfer", details={}, idempotency_key=None,
                           actor=Actor.of_user(shopper), render=render_payout)
    run_action(page, "/admin/payouts/payout/", "shopper@example.com", "approve")
    assert "1 succeeded, 0 failed." in messages(page)
    assert cell(page, "shopper@example.com", "status") == "Approved"
    run_action(page, "/admin/payouts/payout/", "shopper@example.com", "mark_paid")
    page.fill("#id_external_reference", "BANK-REF-42")
    submit(page, 'input[value="Confirm"]')
    assert "1 succeeded, 0 failed." in messages(page)
    assert cell(page, "shopper@example.com", "status") == "Paid"
    assert cell(page, "shopper@example.com", "external_reference") == "BANK-REF-42"

    # The dashboard: what is owed, the pipeline, the job loops (never ran here) and the charts.
    page.goto("/admin/payouts/payout/dashboard/")
    assert page.locator("#sum-pending").inner_text() == "0.00 EUR"
    assert page.locator("#sum-available").inner_text() == "0.00 EUR"
    assert page.locator("#paid-count").inner_text() == "1"
    assert page.locator("#paid-sum").inner_text() == "10.00 EUR"
    assert "confirm_purchases has never completed a pass" in page.locator("#job-warning-confirm_purchases").inner_text()
    for chart in ("chart-cashback", "chart-balances", "chart-payouts"):
        box = page.locator(f"svg#{chart}").bounding_box()
        assert box and box["width"] > 300 and box["height"] > 50, chart
    cashback_table = page.locator("#figures-cashback")
    assert not cashback_table.is_visible()  # folded away until asked for
    page.locator("details.figures summary").first.click()
    today_row = cashback_table.locator("tr").last.inner_text().split()
    assert today_row == [today.isoformat(), "20.00", "10.00", "10.00"]  # earned, confirmed, reversed today
    tooltip = page.locator('svg#chart-balances circle[data-series="Paid out"]').last.get_attribute("data-value")
    assert tooltip == "10.00"

    # "Reconcile now" from the dashboard: every wallet agrees with its ledger.
    with page.expect_navigation():
        page.get_by_role("link", name="Reconcile now").click()
    assert page.url.endswith("/admin/payouts/payout/reconcile/")
    assert not page.locator("#reconcile-summary").count()
    submit(page, 'input[type="submit"][value="Reconcile now"]')
    summary = page.locator("#reconcile-summary").inner_text()
    assert re.fullmatch(r"Checked [1-9]\d* wallets, 0 mismatches\.", summary), summary
    assert not page.locator("ul.errorlist").count()
