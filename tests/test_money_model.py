"""A stateful model of the money (issue 9): hypothesis drives random sequences of the real services
— registration, ingestion (percent and fixed offers, at and over the monthly cap, across month
boundaries), confirmation, rejection, reversal before and after payouts, payout requests with and
without a reused Idempotency-Key, every admin payout transition, the two job passes and
feature-flag flips — against PostgreSQL, and keeps a plain-Python model of what every balance,
purchase and payout must be.

After every step: each balance equals the model and the sum of its ledger entries (R-113), none is
negative (R-114), clawback > 0 ⇒ available = 0 (R-116), no user earned more than an offer's cap in
any month (R-83), every purchase's cashback status and amount match its state (R-95, R-101, R-103),
every payout's status matches, and the reconciliation `reconcile_wallets` runs finds nothing
(R-183).

Time is controlled: `timezone.now` reads a clock the machine moves forward (hours to days), so
months, ISO weeks, the 48 h payout spacing (R-123), the 24 h key TTL (R-146) and the 15-minute
stale-processing rule (R-178) all come into play.

`make test` runs a small profile (MONEY_MODEL_EXAMPLES, default 100 examples of up to 25 steps);
`make soak` runs thousands and prints how many examples and steps it made."""

import datetime as dt
import io
import itertools
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from unittest import mock

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

D = Decimal
ZERO = D("0.00")
CENT = D("0.01")

EXAMPLES = int(os.environ.get("MONEY_MODEL_EXAMPLES", "100"))
STEPS = int(os.environ.get("MONEY_MODEL_STEPS", "25"))
PROFILE = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

# Three merchants, each with one live offer for years: percent with a small cap, fixed with a cap
# that two purchases exhaust, and a generous percent one (R-80…R-83).
OFFER_TERMS = [
    ("percent", D("10.00"), D("40.00")),
    ("fixed", D("25.00"), D("60.00")),
    ("percent", D("20.00"), D("150.00")),
]
AUTO_CONFIRM = "purchase_auto_confirm"
AUTO_PROCESS = "payout_auto_process"
PAYOUT_MIN, PAYOUT_WEEKLY, PAYOUT_SPACING = D("10.00"), D("200.00"), dt.timedelta(hours=48)
KEY_TTL, STALE_PROCESSING = dt.timedelta(hours=24), dt.timedelta(minutes=15)
COUNTED = {"requested", "approved", "processing", "paid"}
ADMIN_TRANSITIONS = {
    "requested": {"approved", "rejected"},
    "approved": {"processing", "paid", "rejected"},
    "processing": {"paid", "failed"},
    "paid": set(), "failed": set(), "rejected": set(),
}
CASHBACK_STATUS_OF = {"pending": "pending", "confirmed": "available", "rejected": "reversed", "reversed": "reversed"}

_emails = itertools.count(1)
_external_ids = itertools.count(1)
TOTALS = {"examples": 0, "steps": 0}
STEPS_BY_RULE: Counter = Counter()
OUTCOMES: Counter = Counter()  # what the steps ran into: refusals, replays, clawbacks …


class Clock:
    """What `timezone.now()` answers while the machine runs; only ever moves forward."""

    def __init__(self, start: dt.datetime):
        self.moment = start

    def now(self) -> dt.datetime:
        return self.moment

    def advance(self, delta: dt.timedelta) -> None:
        self.moment += delta


@dataclass
class ModelWallet:
    pending: D = ZERO
    available: D = ZERO
    paid: D = ZERO
    clawback: D = ZERO

    def credit_available(self, amount: D) -> None:
        """R-116: money flowing into available first pays down clawback."""
        settled = min(amount, self.clawback)
        self.clawback -= settled
        self.available += amount - settled


@dataclass
class ModelPurchase:
    id: object
    user: object
    merchant_index: int
    offer_id: object
    month: tuple
    cashback: D
    status: str = "pending"
    original_cashback: D = ZERO


@dataclass
class ModelPayout:
    id: object
    user: object
    amount: D
    requested_at: dt.datetime
    status: str = "requested"
    processing_started_at: dt.datetime | None = None


@dataclass
class ModelKey:
    amount: D
    method: str
    payout_id: object
    created_at: dt.datetime


@dataclass
class Model:
    wallets: dict = field(default_factory=dict)
    purchases: dict = field(default_factory=dict)
    payouts: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)  # (user, key) → ModelKey
    flags: dict = field(default_factory=dict)  # (key, scope_type, scope_id) → enabled

    def flag(self, key, scope_type="global", scope_id=None) -> bool:
        """R-160: the scoped record, else the global one, else true."""
        if scope_type != "global" and (key, scope_type, scope_id) in self.flags:
            return self.flags[(key, scope_type, scope_id)]
        return self.flags.get((key, "global", None), True)

    def earned(self, user, offer_id, month) -> D:
        return sum((p.cashback for p in self.purchases.values()
                    if p.user == user and p.offer_id == offer_id and p.month == month
                    and p.status in ("pending", "confirmed")), ZERO)


def month_of(moment: dt.datetime) -> tuple:
    return moment.year, moment.month


def expected_cashback(cashback_type: str, value: D, amount: D, cap: D, earned: D) -> D:
    """R-80…R-83 written out again, independently of purchases.policies."""
    raw = amount * value / 100 if cashback_type == "percent" else value
    rounded = raw.quantize(CENT, rounding=ROUND_HALF_EVEN)
    return max(ZERO, min(rounded, amount, cap - earned)).quantize(CENT)


class ScriptedProvider:
    """The payout provider of one job pass: every transfer succeeds, or every one fails."""

    def __init__(self, succeed: bool):
        self.succeed = succeed

    def transfer(self, *, payout_id, **kwargs):
        from payouts.providers import TransferResult

        if self.succeed:
            return TransferResult(succeeded=True, external_reference=f"MODEL-{payout_id}")
        return TransferResult(succeeded=False, failure_reason="Model transfer failure")


class ConfirmingVerifier:
    def verify(self, purchase):
        from purchases.verification import CONFIRMED

        return CONFIRMED


class MoneyMachine(RuleBasedStateMachine):
    """Choices among rows go by creation order (dicts keep it), never by their random UUIDs, so a
    replayed example draws the same rows and hypothesis can shrink a failure."""

    users = Bundle("users")
    purchases = Bundle("purchases")

    def __init__(self):
        from django.db import transaction

        super().__init__()
        TOTALS["examples"] += 1
        # Each example runs in a savepoint of the test's transaction and is rolled back at teardown.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.clock = Clock(dt.datetime(2026, 1, 30, 21, 0, tzinfo=dt.UTC))  # two days before a month ends
        self._clock_patch = mock.patch("django.utils.timezone.now", self.clock.now)
        self._clock_patch.start()
        self.model = Model()
        self.merchants = []
        self.jobs_run = self.flips = 0  # the rules always enabled are rationed so money rules get the steps
        self.rationed = Counter()

    def teardown(self):
        from django.db import transaction

        self._clock_patch.stop()
        if not transaction.get_connection().needs_rollback:  # a failed step keeps its own error
            assert_reconcile_wallets_command_finds_nothing()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _step(self):
        TOTALS["steps"] += 1
        STEPS_BY_RULE[sys._getframe(1).f_code.co_name] += 1

    # --- set-up ----------------------------------------------------------------------------

    def _ensure_world(self):
        """Three merchants with a live offer each, an admin and two users; once per example."""
        from accounts import services as accounts
        from clicknback.audit.services import Actor
        from merchants import services as merchants
        from offers import services as offers

        if self.merchants:
            return
        self.admin = accounts.create_account(email=f"model-admin{next(_emails)}@example.com",
                                             password="Adm1n!password", role="admin")
        self.actor = Actor.of_user(self.admin)
        today = self.clock.now().date()
        for cashback_type, value, cap in OFFER_TERMS:
            merchant = merchants.create_merchant(name=f"Model merchant {next(_emails)}",
                                                 default_cashback_percentage=D("5.00"), actor=self.actor)
            offer = offers.create_offer(merchant_id=merchant.pk, cashback_type=cashback_type, cashback_value=value,
                                        start_date=today, end_date=today + dt.timedelta(days=3 * 365),
                                        monthly_cap=cap, actor=self.actor)
            self.merchants.append((merchant, offer))
        self.first_users = [accounts.register_user(email=f"model{next(_emails)}@example.com",
                                                   password="Passw0rd!long").pk for _ in range(2)]
        for user in self.first_users:
            self.model.wallets[user] = ModelWallet()

    @initialize(target=users)
    def merchants_with_live_offers_and_two_users(self):
        self._ensure_world()
        return multiple(*self.first_users)

    @initialize(target=purchases)
    def the_first_user_has_money_to_withdraw(self):
        """Earned the only way there is — a confirmed purchase (20 % of 500.00 = 100.00) — so payout
        sequences, and reversals after a payout, are reachable from the first step."""
        self._ensure_world()
        purchase = self._ingest(self.first_users[0], 2, D("500.00"))
        self._confirm(purchase)
        return purchase

    # --- users -------------------------------------------------------------------------------

    @precondition(lambda self: len(self.model.wallets) < 4)
    @rule(target=users)
    def register(self):
        from accounts import services as accounts

        self._step()
        user = accounts.register_user(email=f"model{next(_emails)}@example.com", password="Passw0rd!long")
        self.model.wallets[user.pk] = ModelWallet()
        return user.pk

    # --- purchases ---------------------------------------------------------------------------

    @rule(target=purchases, user=users, merchant_index=st.integers(0, len(OFFER_TERMS) - 1),
          amount=st.one_of(st.sampled_from([D("0.01"), D("10.10"), D("10.30"), D("2.50"), D("19.99"), D("60.00"),
                                            D("240.00"), D("750.00"), D("1999.99")]),
                           st.decimals(min_value=D("0.01"), max_value=D("2000.00"), places=2)))
    def ingest(self, user, merchant_index, amount):
        self._step()
        return self._ingest(user, merchant_index, amount)

    def _ingest(self, user, merchant_index, amount):
        from clicknback.audit.services import Actor
        from purchases import services

        merchant, offer = self.merchants[merchant_index]
        cashback_type, value, cap = OFFER_TERMS[merchant_index]
        month = month_of(self.clock.now())
        expected = expected_cashback(cashback_type, value, amount, cap, self.model.earned(user, offer.pk, month))
        purchase = services.ingest_purchase(user_id=user, merchant_id=merchant.pk,
                                            external_id=f"model-{next(_external_ids)}", amount=amount,
                                            currency="eur", actor=Actor("user", user))
        assert purchase.cashback_amount == expected, (amount, cashback_type, value, cap)
        uncapped = expected_cashback(cashback_type, value, amount, cap, ZERO) if cap > ZERO else expected
        if expected < min(uncapped, cap):
            OUTCOMES["ingested at or over the monthly cap"] += 1
        if any(p.user == user and p.offer_id == offer.pk and p.month != month for p in self.model.purchases.values()):
            OUTCOMES["ingested in a later month than an earlier purchase of the offer"] += 1
        self.model.purchases[purchase.pk] = ModelPurchase(purchase.pk, user, merchant_index, offer.pk, month,
                                                          expected, original_cashback=expected)
        self.model.wallets[user].pending += expected
        return purchase.pk

    @precondition(lambda self: self.rationed["duplicates"] < 2)
    @rule(purchase=purchases)
    def ingest_the_same_external_id_again(self, purchase):
        """R-63: (merchant, external_id) is unique; the duplicate changes nothing."""
        from clicknback.audit.services import Actor
        from purchases import services
        from purchases.exceptions import DuplicatePurchase
        from purchases.models import Purchase

        self._step()
        self.rationed["duplicates"] += 1
        stored = Purchase.objects.get(pk=purchase)
        with pytest.raises(DuplicatePurchase):
            services.ingest_purchase(user_id=stored.user_id, merchant_id=stored.merchant_id,
                                     external_id=stored.external_id, amount=stored.amount, currency="EUR",
                                     actor=Actor("user", stored.user_id))

    @rule(purchase=purchases)
    def confirm(self, purchase):
        self._step()
        self._confirm(purchase)

    def _confirm(self, purchase):
        from purchases import services
        from purchases.exceptions import PurchaseNotPending

        model = self.model.purchases[purchase]
        if model.status != "pending":
            with pytest.raises(PurchaseNotPending):
                services.confirm_purchase(purchase_id=purchase, actor=self.actor)
            OUTCOMES["confirm refused (not pending)"] += 1
            return
        if self.model.wallets[model.user].clawback > ZERO and model.cashback > ZERO:
            OUTCOMES["confirmation settled clawback"] += 1
        services.confirm_purchase(purchase_id=purchase, actor=self.actor)
        model.status = "confirmed"
        wallet = self.model.wallets[model.user]
        wallet.pending -= model.cashback
        wallet.credit_available(model.cashback)

    @rule(purchase=purchases)
    def reject(self, purchase):
        from purchases import services
        from purchases.exceptions import PurchaseNotPending

        self._step()
        model = self.model.purchases[purchase]
        if model.status != "pending":
            with pytest.raises(PurchaseNotPending):
                services.reject_purchase(purchase_id=purchase, reason="model", actor=self.actor)
            return
        services.reject_purchase(purchase_id=purchase, reason="model", actor=self.actor)
        self.model.wallets[model.user].pending -= model.cashback
        model.status, model.cashback = "rejected", ZERO

    @rule(purchase=purchases)
    def reverse(self, purchase):
        """R-93, R-115: from confirmed, what `available` cannot cover (spent on payouts) becomes clawback."""
        from purchases import services
        from purchases.exceptions import PurchaseAlreadyReversed, PurchaseNotReversible

        self._step()
        model = self.model.purchases[purchase]
        refused = {"reversed": PurchaseAlreadyReversed, "rejected": PurchaseNotReversible}.get(model.status)
        if refused:
            with pytest.raises(refused):
                services.reverse_purchase(purchase_id=purchase, reason=None, actor=self.actor)
            return
        services.reverse_purchase(purchase_id=purchase, reason="model", actor=self.actor)
        wallet = self.model.wallets[model.user]
        if model.status == "pending":
            wallet.pending -= model.cashback
        else:
            taken = min(model.cashback, wallet.available)
            wallet.available -= taken
            wallet.clawback += model.cashback - taken
            OUTCOMES["confirmed purchase reversed"] += 1
            if model.cashback > taken:
                OUTCOMES["reversal after payout recorded clawback"] += 1
        model.status, model.cashback = "reversed", ZERO

    @precondition(lambda self: self.jobs_run < 8 and any(p.status == "pending" for p in self.model.purchases.values()))
    @rule()
    def run_the_confirmation_job(self):
        """R-171, R-172: every due pending purchase is confirmed unless purchase_auto_confirm is off
        for its user or its merchant (then it is deferred, not counted)."""
        from purchases import confirmation

        self._step()
        self.jobs_run += 1
        summary = confirmation.run_pass(batch_size=10_000, interval=dt.timedelta(0), verifier=ConfirmingVerifier())
        assert summary.errors == 0
        confirmed = 0
        for model in self.model.purchases.values():
            if model.status != "pending":
                continue
            merchant = self.merchants[model.merchant_index][0]
            if (self.model.flag(AUTO_CONFIRM, "user", model.user)
                    and self.model.flag(AUTO_CONFIRM, "merchant", merchant.pk)):
                model.status = "confirmed"
                wallet = self.model.wallets[model.user]
                wallet.pending -= model.cashback
                wallet.credit_available(model.cashback)
                confirmed += 1
        assert summary.confirmed == confirmed
        OUTCOMES["confirmed by the job"] += confirmed
        OUTCOMES["deferred by purchase_auto_confirm"] += summary.skipped_by_flag

    # --- payouts -----------------------------------------------------------------------------

    def _policy_refuses(self, user, amount) -> bool:
        now = self.clock.now()
        counted = [p for p in self.model.payouts.values() if p.user == user and p.status in COUNTED]
        week_start = (now - dt.timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        week_total = sum((p.amount for p in counted if p.requested_at >= week_start), ZERO)
        too_soon = any(p.requested_at > now - PAYOUT_SPACING for p in counted)
        return amount < PAYOUT_MIN or too_soon or week_total + amount > PAYOUT_WEEKLY

    def _request(self, user, amount, method, key):
        from accounts.models import User
        from clicknback.audit.services import Actor
        from payouts import services
        from payouts.exceptions import IdempotencyKeyReused, InsufficientBalance, PayoutPolicyViolation
        from payouts.views import render_payout

        call = lambda: services.request_payout(  # noqa: E731
            user=User.objects.get(pk=user), amount=amount, method=method, details={}, idempotency_key=key,
            actor=Actor("user", user), render=render_payout,
        )
        now = self.clock.now()
        earlier = self.model.keys.get((user, key)) if key is not None else None
        if earlier is not None and earlier.created_at > now - KEY_TTL:
            if (earlier.amount, earlier.method) != (amount, method):
                with pytest.raises(IdempotencyKeyReused):
                    call()
                OUTCOMES["payout key reused with another body (409)"] += 1
                return None
            response = call()  # the first answer again, nothing moves
            assert response.replayed and response.status == 201
            assert str(earlier.payout_id) in response.body
            OUTCOMES["payout replayed by its key"] += 1
            return None
        wallet = self.model.wallets[user]
        if self._policy_refuses(user, amount):
            with pytest.raises(PayoutPolicyViolation):
                call()
            OUTCOMES["payout refused by policy"] += 1
            return None
        if amount > wallet.available:
            with pytest.raises(InsufficientBalance):
                call()
            OUTCOMES["payout refused for balance"] += 1
            return None
        response = call()
        assert not response.replayed
        OUTCOMES["payout requested" + (" with a key" if key else "")] += 1
        payout = response.payout
        wallet.available -= amount
        self.model.payouts[payout.pk] = ModelPayout(payout.pk, user, amount, now)
        if key is not None:  # only a created payout binds its key (an expired one is replaced, R-146)
            self.model.keys[(user, key)] = ModelKey(amount, method, payout.pk, now)
        return payout.pk

    @precondition(lambda self: self.rationed["payout requests"] < 3
                  or any(w.available >= PAYOUT_MIN for w in self.model.wallets.values()))
    @rule(user=users,
          amount=st.one_of(st.sampled_from(["all available", "half of it", "all but a cent", D("5.00"), D("10.00"),
                                            D("200.00")]),
                           st.decimals(min_value=D("0.01"), max_value=D("250.00"), places=2)),
          method=st.sampled_from(["bank_transfer", "card"]),
          key=st.one_of(st.none(), st.sampled_from(["key-a", "key-b", "key-c"])), richest=st.booleans())
    def request_payout(self, user, amount, method, key, richest):
        self._step()
        self.rationed["payout requests"] += 1
        if richest:  # half the requests come from whoever has the most to withdraw
            user = max(self.model.wallets, key=lambda u: self.model.wallets[u].available)  # ties: the first
        available = self.model.wallets[user].available
        if isinstance(amount, str):
            amount = {"all available": available, "half of it": (available / 2).quantize(CENT),
                      "all but a cent": available - CENT}[amount]
            if amount <= ZERO:
                amount = D("10.00")
        self._request(user, amount, method, key)

    @precondition(lambda self: self.model.keys)
    @rule(data=st.data(), same_body=st.booleans())
    def request_payout_again_with_a_used_key(self, data, same_body):
        """R-142, R-143: a retry with the key of a created payout replays it; another body is a 409."""
        self._step()
        (user, key), earlier = data.draw(st.sampled_from(list(self.model.keys.items())))
        amount = earlier.amount if same_body else earlier.amount + D("1.00")
        self._request(user, amount, earlier.method, key)

    def _admin_move(self, payout_id, target):
        from payouts import services
        from payouts.exceptions import PayoutInvalidTransition

        model = self.model.payouts[payout_id]
        if model.status != target and target not in ADMIN_TRANSITIONS[model.status]:
            with pytest.raises(PayoutInvalidTransition):
                services.set_payout_status(payout_id=payout_id, target=target, actor=self.actor, reason="model")
            OUTCOMES["payout transition refused"] += 1
            return
        _, changed = services.set_payout_status(payout_id=payout_id, target=target, actor=self.actor,
                                                reason="model", external_reference=None)
        assert changed == (model.status != target)  # the current status again is a no-op
        if not changed:
            return
        OUTCOMES[f"payout {target} by an admin"] += 1
        self._apply(model, target)

    def _apply(self, model: ModelPayout, target: str) -> None:
        wallet = self.model.wallets[model.user]
        if target == "paid":
            wallet.paid += model.amount
        elif target in ("failed", "rejected"):
            wallet.credit_available(model.amount)  # the money comes back, clawback first
        elif target == "processing":
            model.processing_started_at = self.clock.now()
        model.status = target

    @precondition(lambda self: self.model.payouts)
    @rule(data=st.data(), new_status=st.sampled_from(["approved", "rejected", "processing", "paid", "failed"]))
    def admin_moves_payout(self, data, new_status):
        self._step()
        payout = data.draw(st.sampled_from(list(self.model.payouts)), label="payout")
        self._admin_move(payout, new_status)

    @precondition(lambda self: self.jobs_run < 8 and self.model.payouts)
    @rule(succeed=st.booleans())
    def run_the_payout_job(self, succeed):
        """R-177…R-180: approved payouts, and processing ones older than 15 minutes, are transferred
        and finalized as paid or failed — unless payout_auto_process is off."""
        from payouts import processing

        self._step()
        self.jobs_run += 1
        summary = processing.run_pass(batch_size=10_000, provider=ScriptedProvider(succeed))
        assert summary.errors == 0
        if not self.model.flag(AUTO_PROCESS):
            assert summary.paused and summary.claimed == 0
            OUTCOMES["payout job paused by payout_auto_process"] += 1
            return
        stale_before = self.clock.now() - STALE_PROCESSING
        claimable = [p for p in self.model.payouts.values()
                     if p.status == "approved"
                     or (p.status == "processing" and p.processing_started_at < stale_before)]
        for model in claimable:
            OUTCOMES[f"payout {'paid' if succeed else 'failed'} by the job"] += 1
            self._apply(model, "paid" if succeed else "failed")
        assert summary.claimed == len(claimable)
        # the pass also forgets keys older than the TTL
        now = self.clock.now()
        self.model.keys = {k: v for k, v in self.model.keys.items() if v.created_at >= now - KEY_TTL}

    # --- flags and time ----------------------------------------------------------------------

    @precondition(lambda self: self.flips < 4)
    @rule(data=st.data(), key=st.sampled_from([AUTO_CONFIRM, AUTO_PROCESS]),
          scope_type=st.sampled_from(["global", "user", "merchant"]), enabled=st.one_of(st.booleans(), st.none()))
    def flip_a_feature_flag(self, data, key, scope_type, enabled):
        """R-160…R-165: set (enabled true/false) or delete (None) one flag record."""
        from clicknback.flags import services
        from clicknback.flags.exceptions import FeatureFlagNotFound

        self._step()
        self.flips += 1
        scope_id = None
        if scope_type == "user":
            if not self.model.wallets:
                return
            scope_id = data.draw(st.sampled_from(list(self.model.wallets)))
        elif scope_type == "merchant":
            scope_id = data.draw(st.sampled_from([m.pk for m, _ in self.merchants]))
        identity = (key, scope_type, scope_id)
        if enabled is None:
            if identity not in self.model.flags:
                with pytest.raises(FeatureFlagNotFound):
                    services.delete_flag(key=key, scope_type=scope_type, scope_id=scope_id, actor=self.actor)
                return
            services.delete_flag(key=key, scope_type=scope_type, scope_id=scope_id, actor=self.actor)
            del self.model.flags[identity]
        else:
            services.set_flag(key=key, enabled=enabled, scope_type=scope_type, scope_id=scope_id, actor=self.actor)
            self.model.flags[identity] = enabled

    @precondition(lambda self: self.rationed["time"] < 5)
    @rule(hours=st.sampled_from([0.25, 1, 13, 25, 49, 24 * 8, 24 * 32]))
    def time_passes(self, hours):
        self._step()
        self.rationed["time"] += 1
        self.clock.advance(dt.timedelta(hours=hours))

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def wallets_match_the_model_and_the_ledger(self):
        from django.db.models import Sum

        from wallets.models import LedgerEntry, Wallet

        ledger = {(row["wallet_id"], row["balance"]): row["total"]
                  for row in LedgerEntry.objects.values("wallet_id", "balance").annotate(total=Sum("amount"))}
        for wallet in Wallet.objects.filter(user_id__in=list(self.model.wallets)):
            model = self.model.wallets[wallet.user_id]
            for name in ("pending", "available", "paid", "clawback"):
                stored = getattr(wallet, f"{name}_balance")
                assert stored == getattr(model, name), (name, stored, model)  # the model
                assert stored == ledger.get((wallet.user_id, name), ZERO), name
                assert stored >= ZERO
            if wallet.clawback_balance > ZERO:
                assert wallet.available_balance == ZERO

    @invariant()
    def no_user_earned_more_than_a_cap_in_any_month(self):
        """R-83: per (user, offer, UTC month), the live cashback never exceeds the offer's cap."""
        from django.db.models import Sum
        from django.db.models.functions import TruncMonth

        from purchases.models import Purchase

        caps = {offer.pk: cap for (_, offer), (_, _, cap) in zip(self.merchants, OFFER_TERMS, strict=True)}
        rows = (Purchase.objects.filter(status__in=["pending", "confirmed"])
                .annotate(month=TruncMonth("created_at", tzinfo=dt.UTC))
                .values("user_id", "offer_id", "month").annotate(total=Sum("cashback_amount")))
        for row in rows:
            assert row["total"] <= caps[row["offer_id"]], row

    @invariant()
    def purchases_and_payouts_match_the_model(self):
        from payouts.models import Payout
        from purchases.models import Purchase

        stored = {p.pk: p for p in Purchase.objects.select_related("cashback_transaction")}
        assert set(stored) == set(self.model.purchases)
        for pk, model in self.model.purchases.items():
            purchase = stored[pk]
            assert purchase.status == model.status
            assert purchase.cashback_amount == model.cashback  # dead purchases show 0.00
            cashback = purchase.cashback_transaction
            assert cashback.status == CASHBACK_STATUS_OF[model.status]
            assert cashback.amount == model.original_cashback  # never changes
        payouts = dict(Payout.objects.values_list("pk", "status"))
        assert payouts == {pk: p.status for pk, p in self.model.payouts.items()}

    @invariant()
    def the_reconciliation_finds_nothing(self):
        """R-183 C1…C6, by the function `reconcile_wallets` runs (the command itself runs at teardown)."""
        from wallets.reconciliation import reconcile

        checked, mismatches = reconcile()
        assert mismatches == [], [str(m) for m in mismatches]
        assert checked == len(self.model.wallets) + 1  # and the admin's


def assert_reconcile_wallets_command_finds_nothing():
    from django.core.management import call_command

    out = io.StringIO()
    try:
        call_command("reconcile_wallets", stdout=out)
    except SystemExit as exit_:  # the command exits 1 on a mismatch
        raise AssertionError(out.getvalue()) from exit_
    assert out.getvalue().rstrip().endswith(", 0 mismatches."), out.getvalue()


@pytest.mark.django_db
def test_the_money_model_holds_after_every_step():
    before = dict(TOTALS)
    MoneyMachine.TestCase.settings = PROFILE
    MoneyMachine.TestCase().runTest()
    examples, steps = TOTALS["examples"] - before["examples"], TOTALS["steps"] - before["steps"]
    print(f"\nmoney model: {examples} examples, {steps} steps, 0 failures")
    print("  steps by rule: " + ", ".join(f"{name} {n}" for name, n in sorted(STEPS_BY_RULE.items())))
    print("  outcomes: " + ", ".join(f"{name} {n}" for name, n in sorted(OUTCOMES.items())))
    assert examples >= min(EXAMPLES, 10) and steps > examples
