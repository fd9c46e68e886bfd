"""End-to-end: the real server (gunicorn) on a loopback port, driven over HTTP like a client."""

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
    import datetime as dt
    import io

    from django.core.management import call_command

    _, admin_tokens, _ = server.request("POST", "/api/v1/auth/login", {"email": "ops@example.com", "password": PASSWORD})
    admin_token = admin_tokens["access_token"]
    # admin creates merchant + offer
    _, merchant, _ = server.request(
        "POST", "/api/v1/merchants", {"name": "Cashback Shop", "default_cashback_percentage": "5.00"}, token=admin_token
    )
    today = dt.datetime.now(dt.UTC).date()
    status, offer, _ = server.request("POST", "/api/v1/offers", {
        "merchant_id": merchant["id"], "cashback_type": "percent", "cashback_value": "10.00",
        "start_date": today.isoformat(), "end_date": (today + dt.timedelta(days=30)).isoformat(),
        "monthly_cap": "100.00",
    }, token=admin_token)
    assert status == 201, offer

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
