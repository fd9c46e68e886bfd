"""Top-level routes: the versioned API, health probes, Prometheus metrics, OpenAPI schema + Swagger UI, back-office."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation

from clicknback import views

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("merchants.urls")),
    path("", include("offers.urls")),
    path("", include("purchases.urls")),
    path("", include("wallets.urls")),
    path("", include("payouts.urls")),
    path("", include("clicknback.flags.urls")),
]


class SchemaView(SpectacularAPIView):
    # The schema is the one route where `?format=json` and Accept are honoured (api.md §0.6).
    content_negotiation_class = DefaultContentNegotiation


urlpatterns = [
    re_path(r"^health/live/?$", views.LiveView.as_view(), name="health-live"),
    re_path(r"^health/ready/?$", views.ReadyView.as_view(), name="health-ready"),
    re_path(r"^metrics/?$", views.metrics_view, name="metrics"),
    re_path(r"^api/v1/schema/?$", SchemaView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
]

handler404 = "clicknback.handlers.not_found"
handler500 = "clicknback.handlers.server_error"
