"""Role checks (api.md §0.2, R-20): authentication first, then the caller's current DB role."""

from rest_framework.permissions import BasePermission

from clicknback.errors import Forbidden


class RolePermission(BasePermission):
    """Every action needs an authenticated caller; actions named in the view's `admin_actions`
    also need role admin. An unmapped method (view.action is None) needs only authentication,
    so the caller then gets 405, whatever the role (api.md §0.6)."""

    def has_permission(self, request, view):
        user = request.user
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        action = getattr(view, "action", None)
        if action is not None and action in getattr(view, "admin_actions", ()):
            require_admin(user)
        return True


def require_admin(user) -> None:
    if not user.is_admin:
        raise Forbidden(
            "Admin role required.", details={"required_role": "admin", "current_role": user.role}
        )
