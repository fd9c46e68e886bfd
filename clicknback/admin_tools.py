"""Shared back-office machinery (admin.md §1): per-object actions with one summary, view-only
admins, short ids searchable in full, and no bulk delete anywhere."""

import uuid

from django.contrib import admin, messages
from django.db import transaction

from clicknback.audit import services as audit
from clicknback.audit.services import Actor
from clicknback.errors import DomainError

admin.site.disable_action("delete_selected")  # no bulk delete, site-wide
admin.site.site_header = "ClickNBack back-office"
admin.site.site_title = "ClickNBack"


def short_id(obj) -> str:
    """A-9: ids are shown as their first 8 characters."""
    return str(obj.pk)[:8]


short_id.short_description = "id"


def run_action(modeladmin, request, queryset, *, operation, audit_action: str | None, resource_type: str,
               failure_details=None) -> None:
    """A-5/A-6: run `operation(obj, actor)` per object, each in its own transaction; one failing
    does not stop the others. `operation` returns False when nothing changed. A refused object
    gets an audit row with outcome failure (R-192), written after its transaction rolled back."""
    actor = Actor.of_user(request.user)
    succeeded, unchanged, failures = 0, 0, []
    for obj in queryset.order_by("pk"):
        try:
            with transaction.atomic():
                changed = operation(obj, actor)
        except DomainError as exc:
            failures.append((obj, exc))
            if audit_action:
                audit.record_failure(
                    actor=actor, action=audit_action, resource_type=resource_type, resource_id=obj.pk,
                    error_code=exc.code,
                    details={"message": exc.message, **(failure_details(obj) if failure_details else {})},
                )
            continue
        if changed is False:
            unchanged += 1
        else:
            succeeded += 1
    summary = f"{succeeded} succeeded, {len(failures)} failed"
    if unchanged:
        summary += f", {unchanged} unchanged"
    modeladmin.message_user(request, summary + ".", messages.WARNING if failures else messages.SUCCESS)
    for obj, exc in failures:
        modeladmin.message_user(request, f"{obj}: {exc.code} — {exc.message}", messages.ERROR)


class IdSearchMixin:
    """Search a full UUID exactly (A-9) in addition to the admin's text search fields."""

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        try:
            wanted = uuid.UUID(term)
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(pk=wanted), False


class NoDeleteMixin:
    """A-3/R-8: nothing financial is deleted."""

    def has_delete_permission(self, request, obj=None):
        return False


class ViewOnlyAdmin(NoDeleteMixin, admin.ModelAdmin):
    """List and detail pages only: no add, no change, no delete (admin.md §2 "view-only")."""

    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def confirm_then_run(modeladmin, request, queryset, *, title: str, form_class, describe, on_confirm):
    """A-7: show an intermediate page listing the selected objects (with `describe(obj)`) and
    `form_class`'s inputs; once confirmed with a valid form, call `on_confirm(cleaned_data)`."""
    from django.contrib.admin import helpers
    from django.template.response import TemplateResponse

    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            on_confirm(form.cleaned_data)
            return None
    else:
        form = form_class()
    return TemplateResponse(request, "admin/confirm_action.html", {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "objects": [describe(obj) for obj in queryset],
        "form": form,
        "action": request.POST.get("action"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
        "opts": modeladmin.model._meta,
    })
