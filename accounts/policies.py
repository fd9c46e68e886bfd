"""Pure rules on account input: email syntax (R-10, R-208) and password complexity (R-11)."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from accounts.exceptions import InvalidEmail, PasswordNotComplexEnough

EMAIL_MAX_LENGTH = 254
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128

_email_syntax = EmailValidator(allowlist=[])

# R-11, in order: only the first failing rule is reported.
_PASSWORD_RULES = (
    (lambda p: len(p) >= PASSWORD_MIN_LENGTH, f"needs at least {PASSWORD_MIN_LENGTH} characters"),
    (lambda p: re.search(r"[A-Z]", p) is not None, "needs an uppercase letter"),
    (lambda p: re.search(r"[a-z]", p) is not None, "needs a lowercase letter"),
    (lambda p: re.search(r"[0-9]", p) is not None, "needs a digit"),
    (lambda p: re.search(r"[^A-Za-z0-9]", p) is not None, "needs a character that is not a letter or a digit"),
)


def email_problem(email: str) -> str | None:
    """Why `email` (already trimmed) is not acceptable, or None (R-10, R-208: ASCII only)."""
    if not email:
        return "Must not be empty."
    if len(email) > EMAIL_MAX_LENGTH:
        return f"Must be at most {EMAIL_MAX_LENGTH} characters."
    if not email.isascii():
        return "Must be ASCII; send internationalised domains as punycode."
    try:
        _email_syntax(email)
    except ValidationError:
        return "Must be a valid email address."
    return None


def ensure_valid_email(email: str) -> None:
    problem = email_problem(email)
    if problem:
        raise InvalidEmail(problem)


def password_weakness(password: str) -> str | None:
    """The first R-11 rule `password` fails, or None."""
    for passes, reason in _PASSWORD_RULES:
        if not passes(password):
            return reason
    return None


def ensure_complex_password(password: str) -> None:
    weakness = password_weakness(password)
    if weakness:
        raise PasswordNotComplexEnough(weakness)


class ComplexityValidator:
    """R-11 for Django's own password forms (back-office add user / change password)."""

    def validate(self, password, user=None):
        if len(password) > PASSWORD_MAX_LENGTH:
            raise ValidationError(f"Password must be at most {PASSWORD_MAX_LENGTH} characters.")
        weakness = password_weakness(password)
        if weakness:
            raise ValidationError(f"Password {weakness}.")

    def get_help_text(self):
        return (
            "At least 8 characters with an uppercase letter, a lowercase letter, a digit and a "
            "character that is neither a letter nor a digit; at most 128."
        )
