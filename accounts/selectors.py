"""Reads of accounts data."""

from django.contrib.auth.hashers import make_password
from django.db.models import QuerySet

from accounts.models import User, with_email
from clicknback.fields import parse_uuid


def find_user(user_id) -> User | None:
    """The user with this id, or None when there is none or the id is not a UUID."""
    parsed = parse_uuid(str(user_id)) if user_id is not None else None
    if parsed is None:
        return None
    return User.objects.filter(pk=parsed).first()


def find_user_by_email(email: str) -> User | None:
    return with_email(User.objects.all(), email).first()


def users_with_email(email: str) -> QuerySet[User]:
    return with_email(User.objects.all(), email)


def check_credentials(*, email: str, password: str) -> User | None:
    """The user whose password matches, else None; an unknown email still costs one hash (R-210).
    No valid password exceeds 128 characters (R-11), so a longer one is refused after hashing a
    bounded prefix: the cost of a login attempt does not grow with the body size."""
    user = find_user_by_email(email) if email else None
    if user is None or len(password) > 128:
        make_password(password[:128])
        return None
    return user if user.check_password(password) else None


def resolve_path_user(viewer: User, user_id: str, *, write: bool = False, before_lookup=None) -> User:
    """R-22 for `/users/{user_id}/…` aliases: `me` or the caller's own id is the caller; another
    id is allowed only to admins on GET routes (404 when unknown or malformed); anyone else gets
    403, decided before any existence or format check. `before_lookup` runs between the 403 and
    the 404, so a request's own validation (400) answers first (api.md §0.6)."""
    from clicknback.errors import Forbidden, NotFound

    is_self = user_id == "me" or user_id.lower() == str(viewer.pk)
    if not is_self and (write or not viewer.is_admin):
        raise Forbidden(
            "You can only access your own resources.",
            details={"reason": "You can only access your own resources."},
        )
    if before_lookup is not None:
        before_lookup()
    if is_self:
        return viewer
    user = find_user(user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user
