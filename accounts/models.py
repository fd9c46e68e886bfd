"""Users (R-10…R-24) and the server-side record of every refresh token (R-17, R-18)."""

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone


class Role(models.TextChoices):
    USER = "user"
    ADMIN = "admin"


def with_email(users, email: str):
    """R-208: every lookup compares lower(email), so the unique index below serves it (Django's
    `iexact` compares UPPER(), which no index backs)."""
    return users.alias(email_lower=Lower("email")).filter(email_lower=Lower(Value((email or "").strip())))


class UserManager(BaseUserManager):
    def get_by_natural_key(self, email):
        return with_email(self.all(), email).get()

    def create_user(self, email, password=None, **extra):
        """Used by createsuperuser and tests; the API and back-office go through accounts.services."""
        return self._create_through_service(email, password, extra.get("role", Role.USER))

    def create_superuser(self, email, password=None, **extra):
        # admin.md A-1: createsuperuser makes an active user whose role is admin.
        return self._create_through_service(email, password, Role.ADMIN)

    @staticmethod
    def _create_through_service(email, password, role):
        from django.core.exceptions import ValidationError

        from accounts import services
        from clicknback.errors import DomainError

        try:
            return services.create_account(email=email, password=password, role=role)
        except DomainError as exc:  # createsuperuser shows a ValidationError as a clean CommandError
            raise ValidationError(exc.message) from exc


class User(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.USER)
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid"),
        ]

    def __str__(self):
        return self.email

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    # admin.md A-1: back-office access and every permission come from the role alone.
    @property
    def is_staff(self) -> bool:
        return self.is_active and self.is_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_staff

    def has_perm(self, perm, obj=None) -> bool:
        return self.is_staff

    def has_perms(self, perm_list, obj=None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label) -> bool:
        return self.is_staff


class RefreshTokenRecord(models.Model):
    """One row per issued refresh token, by jti — never the raw token (R-18)."""

    jti = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="refresh_tokens")
    family_id = models.UUIDField(db_index=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = "refresh-token record"

    def __str__(self):
        return self.jti
