"""Reads of accounts data."""

from django.contrib.auth.hashers import make_password

from accounts.models import User
from clicknback.fields import parse_uuid


def find_user(user_id) -> User | None:
    """The user with this id, or None when there is none or the id is not a UUID."""
    parsed = parse_uuid(str(user_id)) if user_id is not None else None
    if parsed is None:
        return None
    return User.objects.filter(pk=parsed).first()


def find_user_by_email(email: str) -> User | None:
    return User.objects.filter(email__iexact=email.strip()).first()


def check_credentials(*, email: str, password: str) -> User | None:
    """The user whose password matches, else None; an unknown email still costs one hash (R-210)."""
    user = find_user_by_email(email) if email else None
    if user is None:
        make_password(password)
        return None
    return user if user.check_password(password) else None
