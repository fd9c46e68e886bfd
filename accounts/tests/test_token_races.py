"""R-220: refresh rotation, deactivation, password change and reuse-revocation all lock the user's row
first, so a token minted in a race with a revocation never survives it, and none of them deadlock.

The races are made deterministic: the refresh is held right after it consumed its token (before it
mints the new one) while the revocation starts in another thread; the test then lets the refresh go
on. Without the user lock, the revocation's UPDATE does not see the token minted meanwhile."""

import threading
from unittest import mock

import pytest

from accounts import services
from accounts.exceptions import TokenRevoked, UserInactive
from accounts.models import RefreshTokenRecord, User
from accounts.tests.factories import TEST_PASSWORD, AdminFactory, UserFactory
from clicknback.audit.services import Actor
from clicknback.testing import in_background, run_together, wait_until_a_backend_waits_on_a_lock

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "N3w!Passw0rd-x"


def live_tokens(user) -> list:
    return list(RefreshTokenRecord.objects.filter(user=user, revoked_at__isnull=True, used_at__isnull=True))


def refresh_paused_before_minting(raw_token):
    """A thread that refreshes `raw_token` and stops after consuming it, until `go` is set; the event
    `consumed` says it got there."""
    consumed, go = threading.Event(), threading.Event()
    real_issue = services._issue_tokens

    def paused_issue(**kwargs):
        if kwargs.get("parent") is not None and threading.current_thread() is thread:
            consumed.set()
            go.wait(timeout=20)
        return real_issue(**kwargs)

    thread, outcome = in_background(lambda: services.refresh_tokens(raw_refresh_token=raw_token))
    patch = mock.patch.object(services, "_issue_tokens", side_effect=paused_issue)
    return thread, outcome, consumed, go, patch


def race_refresh_against(user, raw_token, revoke):
    """Refresh `raw_token`, and run `revoke` while the refresh is between consuming and minting."""
    refresh_thread, refreshed, consumed, go, patch = refresh_paused_before_minting(raw_token)
    with patch:
        refresh_thread.start()
        assert consumed.wait(timeout=20), "the refresh never consumed its token"
        revoke_thread, revoked = in_background(revoke)
        revoke_thread.start()
        wait_until_a_backend_waits_on_a_lock()  # the revocation is blocked behind the refresh
        go.set()
        refresh_thread.join(timeout=30)
        revoke_thread.join(timeout=30)
    assert not refresh_thread.is_alive() and not revoke_thread.is_alive(), "deadlock"
    return refreshed[0], revoked[0]


def test_deactivation_racing_a_refresh_revokes_the_token_the_refresh_minted_r220():
    user = UserFactory()
    operator = AdminFactory()
    pair = services.login(email=user.email, password=TEST_PASSWORD)

    refreshed, deactivated = race_refresh_against(
        user, pair.refresh_token,
        lambda: services.set_user_active(user_id=user.pk, active=False, actor_user=operator),
    )

    assert isinstance(refreshed, services.TokenPair), refreshed  # it came first: it was served…
    assert deactivated is True
    assert live_tokens(user) == []  # …but what it minted died with the deactivation
    with pytest.raises(TokenRevoked):
        services.refresh_tokens(raw_refresh_token=refreshed.refresh_token)


def test_password_change_racing_a_refresh_revokes_the_token_the_refresh_minted_r220():
    user = UserFactory()
    pair = services.login(email=user.email, password=TEST_PASSWORD)

    refreshed, _ = race_refresh_against(
        user, pair.refresh_token,
        lambda: services.set_user_password(user_id=user.pk, password=NEW_PASSWORD, actor=Actor.system()),
    )

    assert isinstance(refreshed, services.TokenPair), refreshed
    assert live_tokens(user) == []
    with pytest.raises(TokenRevoked):
        services.refresh_tokens(raw_refresh_token=refreshed.refresh_token)


def test_reuse_racing_a_refresh_of_the_same_family_revokes_the_token_the_refresh_minted_r220():
    user = UserFactory()
    first = services.login(email=user.email, password=TEST_PASSWORD)
    second = services.refresh_tokens(raw_refresh_token=first.refresh_token)  # `first` is now used

    # The thief replays `first` while the owner refreshes `second`.
    refreshed, reused = race_refresh_against(
        user, second.refresh_token, lambda: services.refresh_tokens(raw_refresh_token=first.refresh_token)
    )

    assert isinstance(refreshed, services.TokenPair), refreshed
    assert isinstance(reused, TokenRevoked), reused
    assert live_tokens(user) == []
    with pytest.raises(TokenRevoked):
        services.refresh_tokens(raw_refresh_token=refreshed.refresh_token)


def test_a_login_racing_a_deactivation_mints_no_token_that_outlives_it_r220():
    user = UserFactory()
    operator = AdminFactory()
    checked = threading.Event()
    go = threading.Event()
    real_check = services.selectors.check_credentials

    def slow_check(**kwargs):
        found = real_check(**kwargs)
        checked.set()
        go.wait(timeout=20)  # the password matched; the deactivation commits now
        return found

    with mock.patch.object(services.selectors, "check_credentials", side_effect=slow_check):
        thread, outcome = in_background(lambda: services.login(email=user.email, password=TEST_PASSWORD))
        thread.start()
        assert checked.wait(timeout=20)
        services.set_user_active(user_id=user.pk, active=False, actor_user=operator)
        go.set()
        thread.join(timeout=30)

    assert isinstance(outcome[0], UserInactive), outcome
    assert RefreshTokenRecord.objects.filter(user=user).count() == 0


def test_a_refresh_whose_family_has_a_revoked_record_is_token_revoked_r220():
    user = UserFactory()
    first = services.login(email=user.email, password=TEST_PASSWORD)
    second = services.refresh_tokens(raw_refresh_token=first.refresh_token)
    # Only the (used) parent carries the revocation, e.g. left by an interrupted revocation.
    RefreshTokenRecord.objects.filter(user=user, used_at__isnull=False).update(revoked_at=User.objects.get(
        pk=user.pk).created_at)

    with pytest.raises(TokenRevoked):
        services.refresh_tokens(raw_refresh_token=second.refresh_token)

    assert live_tokens(user) == []  # and the rest of the family is revoked with it


def test_refreshes_deactivation_password_change_and_reuse_all_at_once_never_deadlock_r220():
    user = UserFactory()
    operator = AdminFactory()
    families = [services.login(email=user.email, password=TEST_PASSWORD) for _ in range(4)]
    used = services.refresh_tokens(raw_refresh_token=families[0].refresh_token)
    calls = [
        *[lambda p=p: services.refresh_tokens(raw_refresh_token=p.refresh_token) for p in families[1:]],
        lambda: services.refresh_tokens(raw_refresh_token=used.refresh_token),
        lambda: services.refresh_tokens(raw_refresh_token=families[0].refresh_token),  # reuse
        lambda: services.set_user_active(user_id=user.pk, active=False, actor_user=operator),
        lambda: services.set_user_password(user_id=user.pk, password=NEW_PASSWORD, actor=Actor.system()),
        lambda: services.login(email=user.email, password=TEST_PASSWORD),
    ] * 3

    outcomes = run_together(*calls)  # fails if a thread is stuck

    unexpected = [o for o in outcomes if isinstance(o, BaseException)
                  and not isinstance(o, (TokenRevoked, UserInactive, services.InvalidCredentials))]
    assert unexpected == [], unexpected  # no deadlock error, no 500
    assert live_tokens(user) == []  # deactivated: nothing minted in the race survives
