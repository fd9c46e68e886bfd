"""Back-office for purchases (admin.md §2 Purchases): read-only, confirm/reverse through services."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from clicknback.admin_lists import AutocompleteFilter, LargeTableAdminMixin
from clicknback.admin_tools import IdSearchMixin, ViewOnlyAdmin, confirm_then_run, run_action, short_id
from clicknback.audit.models import AuditAction, AuditLog
from purchases import services
from purchases.models import Purchase, WebhookEvent
from wallets.models import LedgerEntry


class ReverseForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class WebhookEventInline(admin.TabularInline):
    """admin.md Purchases, detail page: the webhook events that touched this purchase (read-only)."""

    model = WebhookEvent
    fk_name = "purchase"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["received_at", "event", "response_status", "error_code", "request_timestamp"]
    readonly_fields = fields
    ordering = ["received_at", "id"]
    verbose_name_plural = "webhook events"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MerchantFilter(AutocompleteFilter):
    title, parameter_name = "merchant", "merchant__id__exact"
    source, lookup = "purchases.Purchase.merchant", "merchant_id"


class UserFilter(AutocompleteFilter):
    title, parameter_name = "user", "user__id__exact"
    source, lookup = "purchases.Purchase.user", "user_id"


@admin.register(Purchase)
class PurchaseAdmin(IdSearchMixin, LargeTableAdminMixin, ViewOnlyAdmin):
    list_display = ["external_id", short_id, "user_email", "merchant", "amount", "currency", "cashback_amount",
                    "status", "source", "verification_attempts", "created_at"]
    list_select_related = ["user", "merchant"]
    list_filter = ["status", "source", MerchantFilter, UserFilter]
    search_fields = ["external_id", "user__email"]
    date_hierarchy = "created_at"
    actions = ["confirm", "reverse"]
    readonly_fields = ["cashback_transaction_summary", "ledger_entries_summary", "audit_summary"]
    inlines = [WebhookEventInline]

    def get_fields(self, request, obj=None):
        return [f.name for f in Purchase._meta.fields] + self.readonly_fields

    @admin.display(description="user email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description="cashback transaction")
    def cashback_transaction_summary(self, obj):
        cashback = getattr(obj, "cashback_transaction", None)
        return f"{cashback.amount} ({cashback.status})" if cashback else "—"

    @admin.display(description="ledger entries")
    def ledger_entries_summary(self, obj):
        entries = LedgerEntry.objects.filter(purchase=obj).order_by("id")
        return "; ".join(f"#{e.id} {e.balance} {e.amount:+} {e.reason}" for e in entries) or "—"

    @admin.display(description="audit")
    def audit_summary(self, obj):
        rows = AuditLog.objects.filter(resource_type="purchase", resource_id=str(obj.pk)).order_by("occurred_at")
        return "; ".join(f"{r.occurred_at:%Y-%m-%d %H:%M} {r.action} by {r.actor_type} ({r.outcome})" for r in rows) or "—"

    @admin.action(description="Confirm selected purchases")
    def confirm(self, request, queryset):
        run_action(self, request, queryset, resource_type="purchase", audit_action=AuditAction.PURCHASE_CONFIRMED,
                   operation=lambda p, actor: services.confirm_purchase(purchase_id=p.pk, actor=actor))

    @admin.action(description="Reverse selected purchases…")
    def reverse(self, request, queryset):
        """A-7: an intermediate page lists the purchases and amounts and asks for a reason."""

        def apply(data):
            reason = data["reason"] or None
            run_action(
                self, request, queryset, resource_type="purchase", audit_action=AuditAction.PURCHASE_REVERSED,
                operation=lambda p, actor: services.reverse_purchase(purchase_id=p.pk, reason=reason, actor=actor),
                failure_details=lambda p: {"reason": reason},
            )

        return confirm_then_run(
            self, request, queryset.select_related("user"), title="Reverse purchases", form_class=ReverseForm,
            describe=lambda p: (f"{p.external_id} — {p.user.email}: amount {p.amount} {p.currency}, "
                                f"cashback {p.cashback_amount} ({p.status})"),
            on_confirm=apply,
        )


class WebhookMerchantFilter(AutocompleteFilter):
    title, parameter_name = "merchant", "merchant__id__exact"
    source, lookup = "purchases.WebhookEvent.merchant", "merchant_id"


@admin.register(WebhookEvent)
class WebhookEventAdmin(IdSearchMixin, LargeTableAdminMixin, ViewOnlyAdmin):
    """admin.md: a merchant's webhook events (R-156), view-only; filter by merchant, event, answer, date."""

    list_display = ["received_at", short_id, "merchant", "event", "external_id", "response_status", "error_code",
                    "purchase_link", "request_timestamp"]
    list_select_related = ["merchant", "purchase"]
    list_filter = [WebhookMerchantFilter, "event", "response_status", "error_code"]
    date_hierarchy = "received_at"
    search_fields = ["external_id", "merchant__name"]
    ordering = ["-received_at", "id"]

    def get_fields(self, request, obj=None):
        return [f.name for f in WebhookEvent._meta.fields]

    @admin.display(description="purchase", ordering="purchase__external_id")
    def purchase_link(self, obj):
        if obj.purchase_id is None:
            return "—"
        url = reverse("admin:purchases_purchase_change", args=[obj.purchase_id])
        return format_html('<a href="{}">{}</a>', url, obj.purchase.external_id)
