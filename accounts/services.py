"""Write use cases of accounts: registration, tokens (login, refresh rotation), back-office changes."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError

from accounts import policies, selectors
from accounts.exceptions import (
    AccountChangeRefused,
    EmailAlreadyRegistered,
    InvalidCredentials,
    InvalidRefreshToken,
    TokenRevoked,
    UserInactive,
)
from accounts.models import RefreshTokenRecord, Role, User
from accounts.signals import account_created
from accounts.tokens import AccessToken, RefreshToken
from clicknback.audit import services as audit
from clicknback.audit.models import AuditAction
from clicknback.audit.services import Actor
from clicknback.fields import parse_uuid


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


# --- Registration ---------------------------------------------------------------------------


def _insert_user(*, email: str, password: str | None, role: str) -> User:
    user = User(email=email, role=role, is_active=True)
    user.set_password(password) if password else user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        # a concurrent registration of the same email loses on the unique index.
        raise EmailAlreadyRegistered(email)
    account_created.send(sender=User, user=user)
    return user


def register_user(*, email: str, password: str, actor: Actor | None = None) -> User:
    """R-13, R-209: a new active `user`; complexity before uniqueness; audited USER_REGISTERED.

    Field rules (syntax, lengths) are the caller's serializer's job; this re-checks the email so
    the back-office and shell cannot bypass them.
    """
    email = email.strip()
    policies.ensure_valid_email(email)
    policies.ensure_complex_password(password)
    with transaction.atomic():
        if selectors.find_user_by_email(email) is not None:
            raise EmailAlreadyRegistered(email)
        user = _insert_user(email=email, password=password, role=Role.USER)
        audit.record(
            actor=actor or Actor("user", user.id),
            action=AuditAction.USER_REGISTERED,
            resource_type="user",
            resource_id=user.id,
            details={"email": user.email, "role": user.role, "active": user.is_active},
        )
    return user


def create_account(*, email: str, password: str | None, role: str = Role.USER) -> User:
    """Operator-side creation (createsuperuser, seed data): email rules apply, complexity is the
    operator's responsibility. Audited as a system registration."""
    email = (email or "").strip()
    policies.ensure_valid_email(email)
    with transaction.atomic():
        if selectors.find_user_by_email(email) is not None:
            raise EmailAlreadyRegistered(email)
        user = _insert_user(email=email, password=password, role=role)
        audit.record(
            actor=Actor.system(),
            action=AuditAction.USER_REGISTERED,
            resource_type="user",
            resource_id=user.id,
            details={"email": user.email, "role": user.role, "active": user.is_active},
        )
    return user


# --- Tokens ---------------------------------------------------------------------------------


def _issue_tokens(*, user: User, family_id: uuid.UUID, parent: RefreshTokenRecord | None,
                  family_expires_at: datetime | None) -> TokenPair:
    refresh = RefreshToken()
    refresh["user_id"] = str(user.id)
    if family_expires_at is not None:
        # rotated tokens keep the family's original expiry.
        refresh.set_exp(from_time=family_expires_at, lifetime=timedelta(0))
    RefreshTokenRecord.objects.create(
        jti=refresh["jti"],
        user=user,
        family_id=family_id,
        parent=parent,
        issued_at=timezone.now(),
        expires_at=datetime.fromtimestamp(refresh["exp"], tz=UTC),
    )
    return TokenPair(access_token=str(AccessToken.for_account(user)), refresh_token=str(refresh))


def _lock_user(user_id) -> User | None:
    """R-220: every change to a user's refresh tokens (rotation, reuse- and deactivation-revocation,
    password change, login) first locks the user's row, so they serialize per user: a token minted
    concurrently with a revocation is either revoked by it or never minted. The row is locked before
    any token record, in every path, so these changes cannot deadlock with each other."""
    return User.objects.select_for_update().filter(pk=user_id).first()


def login(*, email: str, password: str) -> TokenPair:
    """R-15, R-210: one answer for unknown email and wrong password; inactive only after the
    password matched. Not audited (R-211)."""
    user = selectors.check_credentials(email=email, password=password)
    if user is None:
        raise InvalidCredentials()
    if not user.is_active:
        raise UserInactive()
    with transaction.atomic():
        # a deactivation that committed while the password was being checked wins.
        user = _lock_user(user.pk)
        if user is None:
            raise InvalidCredentials()
        if not user.is_active:
            raise UserInactive()
        return _issue_tokens(user=user, family_id=uuid.uuid4(), parent=None, family_expires_at=None)


def refresh_tokens(*, raw_refresh_token: str) -> TokenPair:
    """R-18: single-use rotation with reuse detection, checks in the rule's order; only a success
    consumes the presented token (one conditional UPDATE, race-free). R-220: under the user's row
    lock, and refused when any record of the token's family has been revoked."""
    try:
        token = RefreshToken(raw_refresh_token)
    except (ExpiredTokenError, TokenError):
        raise InvalidRefreshToken()
    jti = token.get("jti")
    user_id = parse_uuid(token.get("user_id"))
    if not isinstance(jti, str) or user_id is None:
        raise InvalidRefreshToken()
    with transaction.atomic():
        user = _lock_user(user_id)
        record = RefreshTokenRecord.objects.filter(jti=jti, user_id=user_id).first() if user else None
        if record is None:
            raise InvalidRefreshToken()
        family_revoked = RefreshTokenRecord.objects.filter(
            family_id=record.family_id, revoked_at__isnull=False
        ).exists()
        if record.used_at is None and not family_revoked:
            if not user.is_active:
                raise UserInactive()
            consumed = RefreshTokenRecord.objects.filter(
                jti=jti, used_at__isnull=True, revoked_at__isnull=True
            ).update(used_at=timezone.now())
            if consumed == 1:
                return _issue_tokens(
                    user=user,
                    family_id=record.family_id,
                    parent=record,
                    family_expires_at=_family_expiry(record),
                )
        # Reuse (or a revoked family): the whole rotation family dies. The revocation commits
        # although this request is refused.
        _revoke_family(record.family_id)
    raise TokenRevoked()


def _family_expiry(record: RefreshTokenRecord) -> datetime:
    first = (
        RefreshTokenRecord.objects.filter(family_id=record.family_id).order_by("issued_at").values_list(
            "expires_at", flat=True
        ).first()
    )
    return first or record.expires_at


def _revoke_family(family_id: uuid.UUID) -> None:
    RefreshTokenRecord.objects.filter(family_id=family_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def revoke_all_refresh_tokens(*, user_id) -> int:
    """Revoke every live refresh token of the user, under the user's row lock (R-220; a caller that
    already holds it takes it again at no cost)."""
    _lock_user(user_id)
    return RefreshTokenRecord.objects.filter(user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


# --- Back-office changes (R-23, R-24) --------------------------------------------------------


def _lock_user_and_admins(user_id) -> tuple[User, int]:
    """Lock the active admins (pk order) and the target, so two operators cannot together
    demote or deactivate the last active admin."""
    active_admins = list(
        User.objects.select_for_update().filter(role=Role.ADMIN, is_active=True).order_by("pk")
    )
    user = User.objects.select_for_update().get(pk=user_id)
    return user, len(active_admins)


def _ensure_not_self_or_last_admin(*, user: User, actor_user: User, active_admins: int, change: str) -> None:
    if user.pk == actor_user.pk:
        raise AccountChangeRefused(f"You cannot {change} your own account.", details={"user_id": str(user.pk)})
    if user.is_admin and user.is_active and active_admins <= 1:
        raise AccountChangeRefused(
            f"Cannot {change} the last active admin.", details={"user_id": str(user.pk)}
        )


def set_user_active(*, user_id, active: bool, actor_user: User) -> bool:
    """Activate or deactivate an account. Returns False when it already was in that state.
    Deactivation revokes every refresh token of the user (R-18, R-23)."""
    with transaction.atomic():
        user, active_admins = _lock_user_and_admins(user_id)
        if user.is_active == active:
            return False
        if not active:
            _ensure_not_self_or_last_admin(
                user=user, actor_user=actor_user, active_admins=active_admins, change="deactivate"
            )
            revoke_all_refresh_tokens(user_id=user.pk)
        elif user.pk == actor_user.pk:
            raise AccountChangeRefused("You cannot activate your own account.", details={"user_id": str(user.pk)})
        user.is_active = active
        user.save(update_fields=["is_active", "updated_at"])
        audit.record(
            actor=Actor.of_user(actor_user),
            action=AuditAction.USER_ACTIVATED if active else AuditAction.USER_DEACTIVATED,
            resource_type="user",
            resource_id=user.pk,
            details={"from": not active, "to": active},
        )
    return True


def set_user_role(*, user_id, role: str, actor_user: User) -> bool:
    """Make admin / make regular user (R-24). Returns False when the role is unchanged."""
    with transaction.atomic():
        user, active_admins = _lock_user_and_admins(user_id)
        if user.role == role:
            return False
        change = "demote" if role == Role.USER else "promote"
        if role == Role.USER:
            _ensure_not_self_or_last_admin(
                user=user, actor_user=actor_user, active_admins=active_admins, change=change
            )
        elif user.pk == actor_user.pk:
            raise AccountChangeRefused("You cannot change your own role.", details={"user_id": str(user.pk)})
        old_role = user.role
        user.role = role
        user.save(update_fields=["role", "updated_at"])
        audit.record(
            actor=Actor.of_user(actor_user),
            action=AuditAction.USER_ROLE_CHANGED,
            resource_type="user",
            resource_id=user.pk,
            details={"from": old_role, "to": role},
        )
    return True


def update_user_email(*, user_id, email: str, actor_user: User) -> User:
    """Back-office edit of the email (R-10, R-211: USER_UPDATED with the changed field names)."""
    email = email.strip()
    policies.ensure_valid_email(email)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.email == email:
            return user
        clash = selectors.users_with_email(email).exclude(pk=user.pk).exists()
        if clash:
            raise EmailAlreadyRegistered(email)
        user.email = email
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "updated_at"])
        except IntegrityError:
            raise EmailAlreadyRegistered(email)
        audit.record(
            actor=Actor.of_user(actor_user),
            action=AuditAction.USER_UPDATED,
            resource_type="user",
            resource_id=user.pk,
            details={"changed": ["email"]},
        )
    return user


def set_user_password(*, user_id, password: str, actor: Actor) -> None:
    """Back-office (or demo seed) password change: R-11 applies; every refresh token of the
    user is revoked; audited without the value (R-211)."""
    policies.ensure_complex_password(password)
    hashed = make_password(password)  # hashed before the row lock is taken: the lock stays short
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)  # before the token records
        user.password = hashed
        user.save(update_fields=["password", "updated_at"])
        revoke_all_refresh_tokens(user_id=user.pk)
        audit.record(
            actor=actor,
            action=AuditAction.USER_UPDATED,
            resource_type="user",
            resource_id=user.pk,
            details={"changed": ["password"]},
        )
