"""Back-office for wallets, ledger entries and cashback transactions: view-only (admin.md A-2)."""

from django.contrib import admin, messages
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from clicknback.admin_lists import AutocompleteFilter, LargeTableAdminMixin
from clicknback.admin_tools import ViewOnlyAdmin
from wallets.models import CashbackTransaction, LedgerEntry, Wallet
from wallets.reconciliation import reconcile


class PositiveBalanceFilter(admin.SimpleListFilter):
    balance = ""

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        field = f"{self.balance}_balance__gt"
        if self.value() == "yes":
            return queryset.filter(**{field: 0})
        if self.value() == "no":
            return queryset.filter(~Q(**{field: 0}))
        return queryset


class HasClawbackFilter(PositiveBalanceFilter):
    title, parameter_name, balance = "has clawback", "has_clawback", "clawback"


class HasAvailableFilter(PositiveBalanceFilter):
    title, parameter_name, balance = "has available", "has_available", "available"


class LatestEntriesFormSet(BaseInlineFormSet):
    """admin.md: the latest 100 entries of this wallet (the inline's queryset is not yet per wallet)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        latest = list(self.queryset.order_by("-id").values_list("id", flat=True)[:100])
        self.queryset = self.queryset.filter(id__in=latest).select_related("purchase").order_by("-id")


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    formset = LatestEntriesFormSet
    fields = ["id", "created_at", "balance", "amount", "balance_after", "reason", "purchase", "actor_type"]
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    ordering = ["-id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Wallet)
class WalletAdmin(ViewOnlyAdmin):
    list_display = ["user_email", "pending_balance", "available_balance", "paid_balance", "clawback_balance",
                    "updated_at"]
    list_select_related = ["user"]
    list_filter = [HasClawbackFilter, HasAvailableFilter]
    search_fields = ["user__email", "=user__id"]
    readonly_fields = ["user", "pending_balance", "available_balance", "paid_balance", "clawback_balance",
                       "updated_at", "ledger_link"]
    inlines = [LedgerEntryInline]
    actions = ["check_consistency"]

    @admin.display(description="user email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    @admin.display(description="ledger")
    def ledger_link(self, obj):
        url = reverse("admin:wallets_ledgerentry_changelist") + f"?wallet__user__id__exact={obj.pk}"
        return format_html('<a href="{}">All ledger entries of this wallet</a>', url)

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Check consistency (reconcile C1–C6)")
    def check_consistency(self, request, queryset):
        """R-183 for the selected wallets; read-only, no audit row."""
        total = 0
        for wallet in queryset:
            checked, mismatches = reconcile(user_id=wallet.pk)
            total += len(mismatches)
            for mismatch in mismatches:
                self.message_user(request, str(mismatch), messages.ERROR)
        if total == 0:
            self.message_user(request, f"{queryset.count()} wallets checked, no mismatch.", messages.SUCCESS)


class WalletUserFilter(AutocompleteFilter):
    """The wallet page links here with this parameter (WalletAdmin.ledger_link); a wallet's
    primary key is its user's id."""

    title, parameter_name = "user", "wallet__user__id__exact"
    source, lookup = "wallets.Wallet.user", "wallet_id"


class CashbackUserFilter(AutocompleteFilter):
    title, parameter_name = "user", "user__id__exact"
    source, lookup = "wallets.CashbackTransaction.user", "user_id"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(LargeTableAdminMixin, ViewOnlyAdmin):
    list_display = ["id", "created_at", "user_email", "balance", "amount", "balance_after", "reason", "purchase_id",
                    "payout_id", "actor_type"]
    list_select_related = ["wallet__user"]
    list_filter = ["balance", "reason", "actor_type", "created_at", WalletUserFilter]
    search_fields = ["wallet__user__email", "=purchase__id", "=payout__id", "=operation_id"]

    @admin.display(description="user email", ordering="wallet__user__email")
    def user_email(self, obj):
        return obj.wallet.user.email


@admin.register(CashbackTransaction)
class CashbackTransactionAdmin(LargeTableAdminMixin, ViewOnlyAdmin):
    list_display = ["user_email", "purchase_id", "amount", "status", "created_at", "updated_at"]
    list_select_related = ["user"]
    list_filter = ["status", "created_at", CashbackUserFilter]
    search_fields = ["=purchase__id", "user__email"]

    @admin.display(description="user email", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email
