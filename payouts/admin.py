"""Back-office for payouts (admin.md §2 Payouts): approve / reject / mark paid / mark failed
through payouts.services, a liabilities dashboard and a "reconcile now" page."""

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from clicknback import charts
from clicknback.admin_lists import AutocompleteFilter, LargeTableAdminMixin
from clicknback.admin_tools import IdSearchMixin, ViewOnlyAdmin, confirm_then_run, run_action, short_id
from clicknback.audit.models import AuditAction
from clicknback.core.selectors import job_health
from payouts import selectors, services
from payouts.models import Payout, PayoutIdempotencyKey, PayoutStatus
from wallets import selectors as wallet_selectors
from wallets.reconciliation import reconcile


def dashboard_charts(*, now) -> dict:
    """The dashboard's three charts (issue 10) and the figures they draw, from the selectors' aggregates."""
    cashback = wallet_selectors.cashback_per_day(now=now, days=30)
    balances = wallet_selectors.balance_totals_per_day(now=now, days=30)
    weekly = selectors.payouts_per_week(now=now, weeks=12)
    days = [row["day"].strftime("%d %b") for row in cashback]
    weeks = [row["week"].strftime("%d %b") for row in weekly]

    def payout_series(kind: str, name: str):
        return charts.Series(name, [row[kind]["amount"] for row in weekly], tooltips=[
            f"{name}, week of {label}: {row[kind]['count']} payouts, {row[kind]['amount']:,.2f} EUR"
            for label, row in zip(weeks, weekly)])

    return {
        "cashback": cashback,
        "cashback_svg": charts.line_chart(
            chart_id="chart-cashback", title="Cashback per day, last 30 days (UTC)", labels=days,
            series=[charts.Series(name, [row[key] for row in cashback], color) for key, name, color in (
                ("earned", "Earned", "#417690"), ("confirmed", "Confirmed", "#2e9e44"),
                ("reversed", "Reversed", "#c0392b"))]),
        "balances": balances,
        "balances_svg": charts.line_chart(
            chart_id="chart-balances", title="Balance totals at the end of each day (UTC)",
            labels=[row["day"].strftime("%d %b") for row in balances],
            series=[charts.Series(name, [row[key] for row in balances], color) for key, name, color in (
                ("pending", "Pending", "#d68910"), ("available", "Available", "#417690"),
                ("paid", "Paid out", "#2e9e44"), ("clawback", "Clawback", "#c0392b"))]),
        "payouts": weekly,
        "payouts_svg": charts.bar_chart(
            chart_id="chart-payouts", title="Payouts per week (weeks start Monday, UTC)", labels=weeks,
            series=[payout_series("requested", "Requested"), payout_series("paid", "Paid"),
                    payout_series("failed", "Failed")], label_every=2),
    }


class ReasonRequiredForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class MarkPaidForm(forms.Form):
    external_reference = forms.CharField(max_length=255, required=False)


def _describe(payout) -> str:
    return f"{str(payout.pk)[:8]} — {payout.user.email}: {payout.amount} {payout.currency} ({payout.status})"


class UserFilter(AutocompleteFilter):
    title, parameter_name = "user", "user__id__exact"
    source, lookup = "payouts.Payout.user", "user_id"


@admin.register(Payout)
class PayoutAdmin(IdSearchMixin, LargeTableAdminMixin, ViewOnlyAdmin):
    list_display = ["user_email", short_id, "amount", "method", "status", "requested_at", "approved_at",
                    "processed_at", "external_reference"]
    list_select_related = ["user"]
    list_filter = ["status", "method", UserFilter]
    search_fields = ["user__email", "external_reference"]
    date_hierarchy = "requested_at"
    actions = ["approve", "reject", "mark_paid", "mark_failed"]
    change_list_template = "admin/payouts/payout/change_list.html"

    @admin.display(description="user email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    def _change(self, request, queryset, *, target, audit_action, **kwargs):
        run_action(
            self, request, queryset, resource_type="payout", audit_action=audit_action,
            # False (already in that status, R-126) is reported as "unchanged", with no audit row.
            operation=lambda p, actor: services.set_payout_status(payout_id=p.pk, target=target, actor=actor,
                                                                  **kwargs)[1],
            failure_details=lambda p: {"requested_status": target, **kwargs},
        )

    @admin.action(description="Approve selected payouts")
    def approve(self, request, queryset):
        self._change(request, queryset, target=PayoutStatus.APPROVED, audit_action=AuditAction.PAYOUT_APPROVED)

    @admin.action(description="Reject selected payouts…")
    def reject(self, request, queryset):
        return confirm_then_run(
            self, request, queryset.select_related("user"), title="Reject payouts (money returns to available)",
            form_class=ReasonRequiredForm, describe=_describe,
            on_confirm=lambda data: self._change(request, queryset, target=PayoutStatus.REJECTED,
                                                 audit_action=AuditAction.PAYOUT_REJECTED, reason=data["reason"]),
        )

    @admin.action(description="Mark selected payouts paid…")
    def mark_paid(self, request, queryset):
        return confirm_then_run(
            self, request, queryset.select_related("user"), title="Mark payouts paid", form_class=MarkPaidForm,
            describe=_describe,
            on_confirm=lambda data: self._change(
                request, queryset, target=PayoutStatus.PAID, audit_action=AuditAction.PAYOUT_PAID,
                external_reference=data["external_reference"] or None,
            ),
        )

    @admin.action(description="Mark selected payouts failed…")
    def mark_failed(self, request, queryset):
        return confirm_then_run(
            self, request, queryset.select_related("user"), title="Mark payouts failed (money returns to available)",
            form_class=ReasonRequiredForm, describe=_describe,
            on_confirm=lambda data: self._change(request, queryset, target=PayoutStatus.FAILED,
                                                 audit_action=AuditAction.PAYOUT_FAILED, reason=data["reason"]),
        )

    def get_urls(self):
        return [
            path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="payouts_dashboard"),
            path("reconcile/", self.admin_site.admin_view(self.reconcile_view), name="payouts_reconcile"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request):
        """admin.md: the platform's liabilities, computed by selectors; the job loops' health and the
        charts of issue 10."""
        now = timezone.now()
        return TemplateResponse(request, "admin/payouts/dashboard.html", {
            **self.admin_site.each_context(request),
            "title": "Platform liabilities",
            "figures": selectors.platform_liabilities(now=now),
            "jobs": job_health(now=now),
            "charts": dashboard_charts(now=now),
            "opts": self.model._meta,
        })

    def reconcile_view(self, request):
        """Runs the reconcile_wallets checks now (read-only) and lists every mismatch."""
        checked, mismatches = (None, None)
        if request.method == "POST":
            checked, mismatches = reconcile()
        return TemplateResponse(request, "admin/payouts/reconcile.html", {
            **self.admin_site.each_context(request),
            "title": "Reconcile wallets with the ledger",
            "checked": checked,
            "mismatches": mismatches,
            "opts": self.model._meta,
        })


@admin.register(PayoutIdempotencyKey)
class PayoutIdempotencyKeyAdmin(ViewOnlyAdmin):
    list_display = ["user_email", "key", "payout_link", "response_status", "created_at"]
    list_select_related = ["user"]
    search_fields = ["key", "user__email"]
    exclude = ["response_body"]

    @admin.display(description="user email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description="payout")
    def payout_link(self, obj):
        if obj.payout_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:payouts_payout_change", args=[obj.payout_id]),
                           str(obj.payout_id)[:8])
