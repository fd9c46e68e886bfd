"""Back-office for merchants (admin.md §2 Merchants): add/edit/status/rotation through services."""

import contextvars
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html

from clicknback.admin_tools import IdSearchMixin, NoDeleteMixin, run_action, short_id
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.fields import normalize_name
from merchants import policies, services
from merchants.models import Merchant, with_name

_REVEAL_SESSION_KEY = "revealed_webhook_secret"
_viewing_request: contextvars.ContextVar = contextvars.ContextVar("viewing_request", default=None)


class MerchantForm(forms.ModelForm):
    """The API's rules (R-30, R-31, R-203, R-208), so the service never sees bad input."""

    class Meta:
        model = Merchant
        fields = ["name", "default_cashback_percentage", "active"]

    def clean_name(self):
        name = normalize_name(self.cleaned_data["name"])
        if not 1 <= len(name) <= policies.NAME_MAX_LENGTH:
            raise forms.ValidationError("Must be 1 to 255 characters after trimming.")
        if with_name(Merchant.objects.all(), name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(f"A merchant named '{name}' already exists.")
        return name

    def clean_default_cashback_percentage(self):
        value = self.cleaned_data["default_cashback_percentage"]
        problem = policies.percentage_problem(value)
        if problem:
            raise forms.ValidationError(problem)
        return value


@admin.register(Merchant)
class MerchantAdmin(IdSearchMixin, NoDeleteMixin, admin.ModelAdmin):
    form = MerchantForm
    list_display = ["name", short_id, "default_cashback_percentage", "active", "current_offer", "created_at"]
    list_filter = ["active"]
    search_fields = ["name"]
    ordering = ["name", "id"]
    list_per_page = 50
    actions = ["activate", "deactivate", "rotate_webhook_secret"]

    def get_inlines(self, request, obj):
        from offers.admin import OfferInline

        return [OfferInline] if obj is not None else []

    def get_queryset(self, request):
        from offers.models import Offer

        # The current active offer in the page's own query (R-45: at most one).
        active_offer = Offer.objects.filter(merchant=OuterRef("pk"), active=True).values("pk")[:1]
        return super().get_queryset(request).annotate(active_offer_id=Subquery(active_offer))

    @admin.display(description="current active offer")
    def current_offer(self, obj):
        if not getattr(obj, "active_offer_id", None):
            return "—"
        url = reverse("admin:offers_offer_change", args=[obj.active_offer_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.active_offer_id)[:8])

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "default_cashback_percentage", "active"]
        return [
            "id", "name", "default_cashback_percentage", "active", "webhook_secret_display",
            "previous_webhook_secret_expires_at", "webhook_events", "created_at", "updated_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # status changes only through actions; the secret only through rotation.
        return ["id", "active", "webhook_secret_display", "previous_webhook_secret_expires_at",
                "webhook_events", "created_at", "updated_at"]

    @admin.display(description="webhook events")
    def webhook_events(self, obj):
        """admin.md: the merchant's webhook events, on their own filterable list (R-156)."""
        url = reverse("admin:purchases_webhookevent_changelist") + f"?merchant__id__exact={obj.pk}"
        return format_html('<a href="{}">Webhook events of this merchant</a>', url)

    @admin.display(description="webhook secret")
    def webhook_secret_display(self, obj):
        """R-214: masked, except on the first view right after this operator rotated it."""
        request = _viewing_request.get()
        revealed = request.session.get(_REVEAL_SESSION_KEY, {}) if request is not None else {}
        if str(obj.pk) in revealed:
            remaining = {k: v for k, v in revealed.items() if k != str(obj.pk)}
            request.session[_REVEAL_SESSION_KEY] = remaining
            return obj.webhook_secret
        return obj.masked_webhook_secret

    def change_view(self, request, object_id, form_url="", extra_context=None):
        token = _viewing_request.set(request)
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            # The secret field is read while the template renders: render while the request is known.
            if hasattr(response, "render"):
                response.render()
            return response
        finally:
            _viewing_request.reset(token)

    def save_model(self, request, obj, form, change):
        actor = Actor.of_user(request.user)
        data = form.cleaned_data
        if change:
            saved = services.update_merchant(
                merchant_id=obj.pk, name=data["name"],
                default_cashback_percentage=Decimal(data["default_cashback_percentage"]), actor=actor,
            )
        else:
            saved = services.create_merchant(
                name=data["name"], default_cashback_percentage=Decimal(data["default_cashback_percentage"]),
                active=data.get("active", True), actor=actor,
            )
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False

    @admin.action(description="Activate selected merchants")
    def activate(self, request, queryset):
        run_action(
            self, request, queryset, resource_type="merchant", audit_action=AuditAction.MERCHANT_ACTIVATED,
            operation=lambda m, actor: services.set_merchant_active(merchant_id=m.pk, active=True, actor=actor)[1],
        )

    @admin.action(description="Deactivate selected merchants")
    def deactivate(self, request, queryset):
        run_action(
            self, request, queryset, resource_type="merchant", audit_action=AuditAction.MERCHANT_DEACTIVATED,
            operation=lambda m, actor: services.set_merchant_active(merchant_id=m.pk, active=False, actor=actor)[1],
        )

    @admin.action(description="Rotate webhook secret")
    def rotate_webhook_secret(self, request, queryset):
        rotated = []

        def rotate(merchant, actor):
            services.rotate_webhook_secret(merchant_id=merchant.pk, actor=actor)
            rotated.append(str(merchant.pk))

        run_action(
            self, request, queryset, resource_type="merchant",
            audit_action=AuditAction.MERCHANT_WEBHOOK_SECRET_ROTATED, operation=rotate,
        )
        revealed = request.session.get(_REVEAL_SESSION_KEY, {})
        request.session[_REVEAL_SESSION_KEY] = {**revealed, **{pk: True for pk in rotated}}
        self.message_user(
            request,
            f"Open the merchant's page now to read the new secret once; the previous one stays valid for "
            f"{settings.WEBHOOK_SECRET_GRACE_HOURS} h.",
        )
