from django.urls import re_path

from accounts import views
from clicknback.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("auth", views.AuthViewSet, basename="auth")
router.register("users", views.RegistrationViewSet, basename="users")

# `/users/me` is a literal route, matched before any `/users/{user_id}/…` (api.md §0.1).
urlpatterns = [
    re_path(r"^users/me/?$", views.MeViewSet.as_view({"get": "list"}), name="users-me"),
    *router.urls,
]
