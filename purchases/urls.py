from django.urls import re_path

from clicknback.routers import OptionalSlashRouter
from purchases import views, webhook_views

router = OptionalSlashRouter()
router.register("purchases", views.PurchaseViewSet, basename="purchases")

my_purchases = views.UserPurchasesViewSet.as_view({"get": "list"})

urlpatterns = [
    re_path(r"^webhooks/purchases/?$", webhook_views.PurchaseWebhookView.as_view(), name="webhooks-purchases"),
    re_path(r"^users/me/purchases/?$", my_purchases, name="users-me-purchases"),
    re_path(r"^users/(?P<user_id>[^/]+)/purchases/?$", my_purchases, name="users-purchases"),
    *router.urls,
]
