"""Runtime feature flags (R-160…R-165): one switch per key and scope; absence means enabled."""

import uuid

from django.db import models
from django.db.models import Q

KEY_PATTERN = r"^[a-z][a-z0-9_]*$"


class ScopeType(models.TextChoices):
    GLOBAL = "global"
    MERCHANT = "merchant"
    USER = "user"


class FeatureFlag(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=100)
    enabled = models.BooleanField()
    scope_type = models.CharField(max_length=10, choices=ScopeType.choices, default=ScopeType.GLOBAL)
    scope_id = models.UUIDField(null=True, blank=True)
    description = models.CharField(max_length=500, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # one record per (key, global) and per (key, scope_type, scope_id).
            models.UniqueConstraint(
                fields=["key"], condition=Q(scope_type=ScopeType.GLOBAL), name="feature_flag_global_key_unique"
            ),
            models.UniqueConstraint(
                fields=["key", "scope_type", "scope_id"], condition=~Q(scope_type=ScopeType.GLOBAL),
                name="feature_flag_scoped_key_unique",
            ),
            models.CheckConstraint(condition=Q(scope_type__in=ScopeType.values), name="feature_flag_scope_type_valid"),
            # a global record has no scope id; a scoped one always has one.
            models.CheckConstraint(
                condition=(Q(scope_type=ScopeType.GLOBAL) & Q(scope_id__isnull=True))
                | (~Q(scope_type=ScopeType.GLOBAL) & Q(scope_id__isnull=False)),
                name="feature_flag_scope_id_matches_scope_type",
            ),
            models.CheckConstraint(condition=Q(key__regex=KEY_PATTERN), name="feature_flag_key_format"),
        ]

    def __str__(self):
        if self.scope_type == ScopeType.GLOBAL:
            return f"{self.key} (global)"
        return f"{self.key} ({self.scope_type} {self.scope_id})"
