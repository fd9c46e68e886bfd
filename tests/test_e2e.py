"""End-to-end: the real server (gunicorn) on a loopback port, driven over HTTP like a client."""

import datetime as dt

import pytest

from tests.e2e_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Str0ng!Passw0rd"


@pytest.fixture(scope="session")
def collected_static():
    from django.core.management import call_command

    # Under gunicorn the app serves collected files (whitenoise), as in production.
    call_command("collectstatic", "--noinput", verbosity=0)


@pytest.fixture
def server(transactional_db, collected_static):
    live = LiveServer()
    yield live
    live.stop()


@pytest.fixture
def operator(transactional_db):
    from accounts import services

    return services.create_account(email="ops@example.com", password=PASSWORD, role="admin")



def _open_merchant_with_offer(server, name: str):
    """The operator (ops@example.com) logs in and opens a merchant with a live 10 % offer (cap 100.00)."""
    _, admin_tokens, _ = server.request("POST", "/api/v1/auth/login", {"email": "ops@example.com", "password": PASSWORD})
    admin_token = admin_tokens["access_token"]
    status, merchant, _ = server.request(
        "POST", "/api/v1/merchants", {"name": name, "default_cashback_percentage": "5.00"}, token=admin_token
    )
    assert status == 201, merchant
    today = dt.datetime.now(dt.UTC).date()
    status, offer, _ = server.request("POST", "/api/v1/offers", {
        "merchant_id": merchant["id"], "cashback_type": "percent", "cashback_value": "10.00",
        "start_date": today.isoformat(), "end_date": (today + dt.timedelta(days=30)).isoformat(),
        "monthly_cap": "100.00",
    }, token=admin_token)
    assert status == 201, offer
    return admin_token, merchant, offer

def test_user_and_operator_walk_through_accounts_and_merchants(server, operator):
    # register → login → me → refresh
    status, body, headers = server.request("POST", "/api/v1/users/", {"email": "Shopper@Example.com", "password": PASSWORD})
    assert status == 201, body
    assert body["role"] == "user" and body["active"] is True
    assert headers["X-Request-ID"]

    status, tokens, _ = server.request("POST", "/api/v1/auth/login", {"email": "shopper@example.com", "password": PASSWORD})
    assert status == 200 and tokens["token_type"] == "bearer"

    status, me, _ = server.request("GET", "/api/v1/users/me", token=tokens["access_token"])
    assert status == 200 and me["email"] == "Shopper@Example.com"

    status, rotated, _ = server.request("POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert status == 200 and rotated["refresh_token"] != tokens["refresh_token"]
    status, reused, _ = server.request("POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert status == 401 and reused["error"]["code"] == "TOKEN_REVOKED"

    # A regular user is refused on admin endpoints.
    status, refused, _ = server.request("GET", "/api/v1/merchants", token=rotated["access_token"])
    assert status == 403 and refused["error"]["code"] == "FORBIDDEN"

    # (admin) create merchant → list → deactivate
    status, admin_tokens, _ = server.request("POST", "/api/v1/auth/login", {"email": "ops@example.com", "password": PASSWORD})
    assert status == 200
    admin_token = admin_tokens["access_token"]
    status, merchant, _ = server.request(
        "POST", "/api/v1/merchants", {"name": "E2E Shop", "default_cashback_percentage": "4.25"}, token=admin_token
    )
    assert status == 201, merchant
    assert merchant["default_cashback_percentage"] == "4.25" and merchant["active"] is True

    status, page, _ = server.request("GET", "/api/v1/merchants/?active=true", token=admin_token)
    assert status == 200
    assert [m["id"] for m in page["data"]] == [merchant["id"]]
    assert page["pagination"] == {"offset": 0, "limit": 10, "total": 1}

    status, change, _ = server.request(
        "PATCH", f"/api/v1/merchants/{merchant['id']}/status", {"status": "inactive"}, token=admin_token
    )
    assert status == 200 and change == {"id": merchant["id"], "status": "inactive"}
    status, page, _ = server.request("GET", "/api/v1/merchants?active=false", token=admin_token)
    assert [m["id"] for m in page["data"]] == [merchant["id"]]

    # Errors keep the envelope over real HTTP, too.
    status, missing, _ = server.request("GET", "/api/v1/no-such-route")
    assert status == 404 and missing["error"]["code"] == "NOT_FOUND"


def test_server_serves_docs_and_admin_static_files_itself(server):
    status, _, headers = server.request("GET", "/health/live")
    assert status == 200
    import urllib.request

    with urllib.request.urlopen(server.base + "/docs", timeout=10) as resp:
        page = resp.read().decode()
    assert "swagger-ui" in page
    # The Swagger UI bundle and the admin's CSS are served by the app (whitenoise), no CDN.
    for asset in ("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", "/static/admin/css/base.css"):
        with urllib.request.urlopen(server.base + asset, timeout=10) as resp:
            assert resp.status == 200


def test_cashback_walk_from_offer_to_reconciled_ledger(server, operator):
    import io

    from django.core.management import call_command

    # admin creates merchant + offer
    admin_token, merchant, offer = _open_merchant_with_offer(server, "Cashback Shop")

    # user registers, sees the live offer and ingests two purchases
    status, user, _ = server.request("POST", "/api/v1/users", {"email": "buyer@example.com", "password": PASSWORD})
    assert status == 201
    _, tokens, _ = server.request("POST", "/api/v1/auth/login", {"email": "buyer@example.com", "password": PASSWORD})
    token = tokens["access_token"]
    _, live, _ = server.request("GET", "/api/v1/offers/active", token=token)
    assert [o["id"] for o in live["data"]] == [offer["id"]]
    purchase_ids = []
    for external_id, amount in (("order-1", "80.00"), ("order-2", "25.50")):
        status, result, _ = server.request("POST", "/api/v1/purchases", {
            "external_id": external_id, "user_id": user["id"], "merchant_id": merchant["id"],
            "amount": amount, "currency": "EUR",
        }, token=token)
        assert status == 201, result
        purchase_ids.append(result["id"])
    assert result["cashback_amount"] == "2.55"  # 10 % of 25.50, half-even
    _, wallet, _ = server.request("GET", "/api/v1/users/me/wallet", token=token)
    assert wallet == {"pending_balance": "10.55", "available_balance": "0.00", "paid_balance": "0.00",
                      "clawback_balance": "0.00"}

    # admin confirms the first → available; reverses the second (still pending)
    status, confirmed, _ = server.request("POST", f"/api/v1/purchases/{purchase_ids[0]}/confirmation", token=admin_token)
    assert status == 200 and confirmed["status"] == "confirmed"
    status, reversed_, _ = server.request(
        "PATCH", f"/api/v1/purchases/{purchase_ids[1]}/reverse", {"reason": "returned"}, token=admin_token
    )
    assert status == 200 and reversed_ == {"id": purchase_ids[1], "status": "reversed", "cashback_amount": "0.00"}
    _, wallet, _ = server.request("GET", "/api/v1/users/me/wallet", token=token)
    assert wallet == {"pending_balance": "0.00", "available_balance": "8.00", "paid_balance": "0.00",
                      "clawback_balance": "0.00"}
    _, history, _ = server.request("GET", "/api/v1/users/me/wallet/transactions", token=token)
    assert [(t["related_purchase_id"], t["status"]) for t in history["data"]] == [
        (purchase_ids[1], "reversed"), (purchase_ids[0], "available"),
    ]

    # the ledger reconciles
    out = io.StringIO()
    call_command("reconcile_wallets", stdout=out)
    assert out.getvalue().strip().endswith("0 mismatches.")


def _run_job(*args, timeout: float = 60) -> str:
    """`manage.py <job> --once` as an operator runs it: its own process on the server's (test) database."""
    import subprocess
    import sys

    from clicknback.testing import PROJECT_ROOT, manage_py_env

    process = subprocess.Popen([sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=manage_py_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    return output


def test_money_walk_from_purchase_through_the_jobs_to_a_paid_payout(server, operator):
    # R-69 → R-170…R-176 (confirm_purchases) → …R-142 (payout request, idempotent replay)
    # → R-126 (admin approval) → R-177…R-180 (process_payouts) → R-182…R-185 (reconcile_wallets).
    import datetime as dt

    _, admin_tokens, _ = server.request("POST", "/api/v1/auth/login",
                                        {"email": "ops@example.com", "password": PASSWORD})
    admin_token = admin_tokens["access_token"]
    status, merchant, _ = server.request(
        "POST", "/api/v1/merchants", {"name": "Payout Walk Shop", "default_cashback_percentage": "5.00"},
        token=admin_token,
    )
    assert status == 201, merchant
    today = dt.datetime.now(dt.UTC).date()
    status, offer, _ = server.request("POST", "/api/v1/offers", {
        "merchant_id": merchant["id"], "cashback_type": "fixed", "cashback_value": "30.00",
        "start_date": today.isoformat(), "end_date": (today + dt.timedelta(days=30)).isoformat(),
        "monthly_cap": "100.00",
    }, token=admin_token)
    assert status == 201, offer

    status, user, _ = server.request("POST", "/api/v1/users", {"email": "saver@example.com", "password": PASSWORD})
    assert status == 201, user
    _, tokens, _ = server.request("POST", "/api/v1/auth/login", {"email": "saver@example.com", "password": PASSWORD})
    token = tokens["access_token"]
    status, purchase, _ = server.request("POST", "/api/v1/purchases", {
        "external_id": "walk-1", "user_id": user["id"], "merchant_id": merchant["id"], "amount": "120.00",
        "currency": "EUR",
    }, token=token)
    assert status == 201 and purchase["cashback_amount"] == "30.00", purchase

    # The confirmation job verifies and confirms it: the cashback becomes available.
    output = _run_job("confirm_purchases", "--once")
    assert "confirm_purchases: claimed=1 confirmed=1 rejected=0 deferred=0 skipped_by_flag=0 errors=0" in output
    _, confirmed, _ = server.request("GET", f"/api/v1/purchases/{purchase['id']}", token=token)
    assert confirmed["status"] == "confirmed"
    _, wallet, _ = server.request("GET", "/api/v1/users/me/wallet", token=token)
    assert wallet == {"pending_balance": "0.00", "available_balance": "30.00", "paid_balance": "0.00",
                      "clawback_balance": "0.00"}

    # The user asks for 25.00; a network retry with the same Idempotency-Key replays the answer.
    body = {"amount": "25.00", "method": "bank_transfer", "details": {"iban": "DE89370400440532013000"}}
    key = {"Idempotency-Key": "walk-payout-0001"}
    status, payout, headers = server.request("POST", "/api/v1/users/me/payouts", body, token=token, headers=key)
    assert status == 201, payout
    assert payout["status"] == "requested" and payout["amount"] == "25.00"
    assert headers.get("Idempotent-Replayed") is None
    status, replay, headers = server.request("POST", "/api/v1/users/me/payouts", body, token=token, headers=key)
    assert status == 201 and replay == payout and headers["Idempotent-Replayed"] == "true"
    _, mine, _ = server.request("GET", "/api/v1/users/me/payouts", token=token)
    assert [p["id"] for p in mine["data"]] == [payout["id"]]  # the retry created nothing
    _, wallet, _ = server.request("GET", "/api/v1/users/me/wallet", token=token)
    assert wallet["available_balance"] == "5.00" and wallet["paid_balance"] == "0.00"

    # The job moves only approved money.
    assert "claimed=0" in _run_job("process_payouts", "--once")
    status, approved, _ = server.request("PATCH", f"/api/v1/payouts/{payout['id']}/status", {"status": "approved"},
                                         token=admin_token)
    assert status == 200 and approved["status"] == "approved", approved

    output = _run_job("process_payouts", "--once")
    assert "process_payouts: claimed=1 paid=1 failed=0 untouched=0 errors=0" in output

    status, paid, _ = server.request("GET", f"/api/v1/payouts/{payout['id']}", token=token)
    assert status == 200
    assert paid["status"] == "paid" and paid["external_reference"] == f"SIM-{payout['id']}"
    assert paid["processed_at"] and paid["processing_started_at"]
    _, wallet, _ = server.request("GET", "/api/v1/users/me/wallet", token=token)
    assert wallet == {"pending_balance": "0.00", "available_balance": "5.00", "paid_balance": "25.00",
                      "clawback_balance": "0.00"}

    # The operator's ledger check agrees with what the user sees.
    assert _run_job("reconcile_wallets").strip().endswith("Checked 2 wallets, 0 mismatches.")


def test_merchant_webhook_signed_over_real_http(server, operator):
    """api.md §10 against gunicorn: a merchant signs real requests with the secret an operator read
    with `manage.py merchant_webhook_secret` (R-34), reports a purchase, replays it, settles it."""
    import io
    import json
    import time

    from django.core.management import call_command

    from purchases.webhooks import sign
    from purchases.models import WebhookEvent

    admin_token, merchant, offer = _open_merchant_with_offer(server, "Network Shop")
    _, user, _ = server.request("POST", "/api/v1/users", {"email": "network-buyer@example.com", "password": PASSWORD})
    out = io.StringIO()
    call_command("merchant_webhook_secret", merchant["id"], stdout=out)
    secret = out.getvalue().strip()
    assert secret.startswith("whsec_")

    def deliver(body: dict, *, timestamp=None, tamper=False, content_type="application/json"):
        raw = json.dumps(body, separators=(",", ":")).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {"X-ClickNBack-Merchant": merchant["id"], "X-ClickNBack-Timestamp": stamp,
                   "X-ClickNBack-Signature": sign(secret, stamp, raw), "Content-Type": content_type}
        return server.request("POST", "/api/v1/webhooks/purchases", raw + (b" " if tamper else b""), headers=headers)

    created = {"event": "purchase.created", "external_id": "net-1", "user_id": user["id"], "amount": "80.00",
               "currency": "EUR", "purchased_at": "2026-03-05T10:15:30Z"}
    status, purchase, headers = deliver(created)
    assert status == 201, purchase
    assert purchase["status"] == "pending" and purchase["cashback_amount"] == "8.00"
    assert headers["X-Request-ID"]
    status, replay, _ = deliver(created)
    assert status == 200 and replay["id"] == purchase["id"]

    status, refused, headers = deliver(created, tamper=True)
    assert status == 401 and refused["error"]["code"] == "INVALID_SIGNATURE"
    status, stale, _ = deliver(created, timestamp=int(time.time()) - 600)
    assert status == 401 and stale["error"] == {"code": "TIMESTAMP_OUT_OF_WINDOW", "message": stale["error"]["message"],
                                                 "details": {"tolerance_seconds": 300}}
    status, media, _ = deliver(created, content_type="text/plain")
    assert status == 415 and media["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"

    status, confirmed, _ = deliver({"event": "purchase.confirmed", "external_id": "net-1"})
    assert status == 200 and confirmed["status"] == "confirmed"
    _, tokens, _ = server.request("POST", "/api/v1/auth/login", {"email": "network-buyer@example.com", "password": PASSWORD})
    _, wallet, _ = server.request("GET", "/api/v1/users/me/wallet", token=tokens["access_token"])
    assert wallet["available_balance"] == "8.00"
    status, reversed_, _ = deliver({"event": "purchase.reversed", "external_id": "net-1", "reason": "Returned."})
    assert status == 200 and reversed_["status"] == "reversed" and reversed_["cashback_amount"] == "0.00"
    _, wallet, _ = server.request("GET", "/api/v1/users/me/wallet", token=tokens["access_token"])
    assert wallet["available_balance"] == "0.00"

    # the requests past authentication are logged (the 401s are not); the ledger reconciles.
    assert sorted(WebhookEvent.objects.values_list("response_status", flat=True)) == [200, 200, 200, 201, 415]
    out = io.StringIO()
    call_command("reconcile_wallets", stdout=out)
    assert out.getvalue().rstrip().endswith(" 0 mismatches.")
