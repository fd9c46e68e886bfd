"""Back-office login by email, compared case-insensitively (R-208); only active admins (A-1)."""

from django.contrib.auth.backends import BaseBackend

from accounts import selectors


class EmailBackend(BaseBackend):
    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        user = selectors.check_credentials(email=email or username or "", password=password or "")
        if user is None or not user.is_active:
            return None
        return user

    def get_user(self, user_id):
        user = selectors.find_user(user_id)
        return user if user is not None and user.is_active else None

    def has_perm(self, user_obj, perm, obj=None):
        return user_obj.is_staff
