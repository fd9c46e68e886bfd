"""Back-office for offers (admin.md §2 Offers): terms immutable after creation (R-48)."""

from django import forms
from django.contrib import admin

from clicknback.admin_lists import AutocompleteFilter, AutocompleteFiltersMixin
from clicknback.admin_tools import IdSearchMixin, NoDeleteMixin, run_action, short_id
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from offers import selectors, services
from offers.models import Offer


class OfferAddForm(forms.ModelForm):
    """The API's rules (R-40…R-47, R-52) before the service runs."""

    monthly_cap = forms.DecimalField(max_digits=12, decimal_places=2, label="Monthly cap per user")

    class Meta:
        model = Offer
        fields = ["merchant", "cashback_type", "cashback_value", "start_date", "end_date", "active"]

    def clean(self):
        data = super().clean()
        # Every term problem at once, also next to a malformed field.
        for problem in services.term_violations(**{name: data.get(name) for name in services.TERM_FIELDS}):
            if problem["field"] not in self.errors:
                self.add_error(problem["field"], problem["reason"])
        merchant = data.get("merchant")
        if merchant is None:
            return data
        if not merchant.active:
            self.add_error("merchant", "MERCHANT_NOT_ACTIVE: activate the merchant first.")
        elif data.get("active") and (current := selectors.active_offer_of(merchant.pk)):
            self.add_error("active", f"ACTIVE_OFFER_ALREADY_EXISTS: offer {current.pk} is active; deactivate it first.")
        return data


class MerchantFilter(AutocompleteFilter):
    title, parameter_name = "merchant", "merchant__id__exact"
    source, lookup = "offers.Offer.merchant", "merchant_id"


@admin.register(Offer)
class OfferAdmin(IdSearchMixin, NoDeleteMixin, AutocompleteFiltersMixin, admin.ModelAdmin):
    list_display = ["merchant", short_id, "cashback_type", "cashback_value", "monthly_cap_per_user", "start_date",
                    "end_date", "active", "live_now", "created_at"]
    list_filter = ["active", "cashback_type", MerchantFilter]
    list_select_related = ["merchant"]
    search_fields = ["merchant__name"]
    date_hierarchy = "start_date"
    list_per_page = 50
    actions = ["activate", "deactivate"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = OfferAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["merchant", "cashback_type", "cashback_value", "start_date", "end_date", "monthly_cap", "active"]
        return ["id", "merchant", "cashback_type", "cashback_value", "start_date", "end_date",
                "monthly_cap_per_user", "active", "live_now", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    @admin.display(boolean=True, description="live now")
    def live_now(self, obj):
        return obj.is_live_on(selectors.today_utc())

    def save_model(self, request, obj, form, change):
        if change:
            return  # terms are immutable; status moves only through actions
        data = form.cleaned_data
        saved = services.create_offer(
            merchant_id=data["merchant"].pk, cashback_type=data["cashback_type"],
            cashback_value=data["cashback_value"], start_date=data["start_date"], end_date=data["end_date"],
            monthly_cap=data["monthly_cap"], active=data.get("active", True), actor=Actor.of_user(request.user),
        )
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False

    @admin.action(description="Activate selected offers")
    def activate(self, request, queryset):
        run_action(self, request, queryset, resource_type="offer", audit_action=AuditAction.OFFER_ACTIVATED,
                   operation=lambda o, actor: services.set_offer_active(offer_id=o.pk, active=True, actor=actor)[1])

    @admin.action(description="Deactivate selected offers")
    def deactivate(self, request, queryset):
        run_action(self, request, queryset, resource_type="offer", audit_action=AuditAction.OFFER_DEACTIVATED,
                   operation=lambda o, actor: services.set_offer_active(offer_id=o.pk, active=False, actor=actor)[1])


class OfferInline(admin.TabularInline):
    """Read-only list of a merchant's offers on its page (admin.md Merchants)."""

    model = Offer
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["cashback_type", "cashback_value", "monthly_cap_per_user", "start_date", "end_date", "active"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


