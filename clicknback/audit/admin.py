import uuid

from django.contrib import admin
from django.db.models import OuterRef, Subquery

from clicknback.admin_lists import LargeTableAdminMixin
from clicknback.admin_tools import ViewOnlyAdmin
from clicknback.audit.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(LargeTableAdminMixin, ViewOnlyAdmin):
    list_display = ["occurred_at", "actor_type", "actor", "action", "resource_type", "resource_id", "outcome"]
    list_filter = ["action", "actor_type", "outcome", "resource_type", "occurred_at"]
    search_fields = ["resource_id"]
    date_hierarchy = "occurred_at"

    def get_queryset(self, request):
        from accounts.models import User

        # The actor's email in the same query as the page (no query per row).
        emails = User.objects.filter(pk=OuterRef("actor_id")).values("email")[:1]
        return super().get_queryset(request).annotate(actor_email=Subquery(emails))

    @admin.display(description="actor")
    def actor(self, obj):
        return obj.actor_email or (str(obj.actor_id) if obj.actor_id else "—")

    def get_search_results(self, request, queryset, search_term):
        try:
            wanted = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(resource_id=str(wanted)) | queryset.filter(actor_id=wanted), False
