from django.urls import re_path

from clicknback.routers import OptionalSlashRouter
from payouts import views

router = OptionalSlashRouter()
router.register("payouts", views.PayoutViewSet, basename="payouts")

user_payouts = views.UserPayoutsViewSet.as_view({"get": "list", "post": "create"})

urlpatterns = [
    re_path(r"^users/me/payouts/?$", user_payouts, name="users-me-payouts"),
    re_path(r"^users/(?P<user_id>[^/]+)/payouts/?$", user_payouts, name="users-payouts"),
    *router.urls,
]
