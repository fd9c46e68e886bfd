"""Back-office for feature flags (admin.md §2 Feature flags): the only deletable business rows (R-8);
every add, change, enable/disable and delete goes through clicknback.flags.services, so it is
validated and audited exactly like the API (R-161…R-165, R-193)."""

import uuid

from django import forms
from django.contrib import admin
from django.db.models import Q

from clicknback.admin_tools import run_action
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.errors import DomainError
from clicknback.fields import parse_uuid
from clicknback.flags import policies, services
from clicknback.flags.exceptions import FeatureFlagScopeIdRequired
from clicknback.flags.models import FeatureFlag


class FeatureFlagForm(forms.ModelForm):
    """The API's rules (R-162, R-163) before the service runs; scope ids only in the 36-character form (R-212)."""

    scope_id = forms.CharField(required=False, max_length=36, label="Scope id",
                               help_text="Merchant or user UUID; empty for global.")

    class Meta:
        model = FeatureFlag
        fields = ["key", "scope_type", "scope_id", "enabled", "description"]

    def clean_key(self):
        key = self.cleaned_data["key"]
        problem = policies.key_problem(key)
        if problem:
            raise forms.ValidationError(problem)
        return key

    def clean_scope_id(self):
        raw = (self.cleaned_data.get("scope_id") or "").strip()
        if not raw:
            return None
        parsed = parse_uuid(raw)
        if parsed is None:
            raise forms.ValidationError("Must be a UUID in the 36-character hyphenated form.")
        return parsed

    def clean(self):
        data = super().clean()
        if "scope_type" in self.fields and "scope_type" in data and "scope_id" in data:
            try:
                policies.ensure_scope(data["scope_type"], data["scope_id"])
            except FeatureFlagScopeIdRequired as exc:
                self.add_error("scope_id", f"{exc.code}: {exc.message}")
            except DomainError as exc:
                for problem in exc.details.get("violations", []):
                    self.add_error(problem["field"] if problem["field"] in self.fields else None, problem["reason"])
        return data

    def validate_constraints(self):
        """R-161: adding an existing (key, scope) is the service's upsert, not a form error; the
        other constraints are the rules checked above."""


class ScopedFlagSearchMixin:
    """Search a key by text, or a full UUID (A-9) as the flag's id or its scope id."""

    def get_search_results(self, request, queryset, search_term):
        try:
            wanted = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(Q(pk=wanted) | Q(scope_id=wanted)), False


@admin.register(FeatureFlag)
class FeatureFlagAdmin(ScopedFlagSearchMixin, admin.ModelAdmin):
    form = FeatureFlagForm
    list_display = ["key", "scope_type", "short_scope_id", "enabled", "description", "updated_at"]
    list_filter = ["scope_type", "enabled"]
    search_fields = ["key"]
    ordering = ["key", "scope_type", "scope_id"]
    list_per_page = 50
    # A-3 removes "delete selected" site-wide; flags are the one exception, so it is listed here.
    actions = ["delete_selected", "enable", "disable"]

    @admin.display(description="scope id", ordering="scope_id")
    def short_scope_id(self, obj):
        return str(obj.scope_id)[:8] if obj.scope_id else "—"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["key", "scope_type", "scope_id", "enabled", "description"]
        return ["id", "key", "scope_type", "scope_id", "enabled", "description", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["id", "key", "scope_type", "scope_id", "created_at", "updated_at"]  # the identity is fixed

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            identity = {"key": obj.key, "scope_type": obj.scope_type, "scope_id": obj.scope_id}
        else:
            identity = {"key": data["key"], "scope_type": data["scope_type"], "scope_id": data["scope_id"]}
        saved, _ = services.set_flag(
            **identity, enabled=data["enabled"], description=data.get("description"),
            actor=Actor.of_user(request.user),
        )
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.delete_flag(key=obj.key, scope_type=obj.scope_type, scope_id=obj.scope_id,
                             actor=Actor.of_user(request.user))

    def delete_queryset(self, request, queryset):
        """Bulk delete: one transaction and one FEATURE_FLAG_DELETED row per flag (A-5, A-6)."""
        run_action(
            self, request, queryset, resource_type="feature_flag", audit_action=AuditAction.FEATURE_FLAG_DELETED,
            operation=lambda f, actor: services.delete_flag(
                key=f.key, scope_type=f.scope_type, scope_id=f.scope_id, actor=actor,
            ),
        )

    @admin.action(description="Enable selected feature flags")
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected feature flags")
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool):
        run_action(
            self, request, queryset, resource_type="feature_flag", audit_action=AuditAction.FEATURE_FLAG_SET,
            operation=lambda f, actor: services.set_flag(
                key=f.key, scope_type=f.scope_type, scope_id=f.scope_id, enabled=enabled, actor=actor,
            )[1],
        )
