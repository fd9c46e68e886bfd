from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting pieces that need an app: the shared cache table, demo data, OpenAPI extensions."""

    name = "clicknback.core"
    label = "core"

    def ready(self):
        from clicknback import schema  # noqa: F401 — registers the OpenAPI authentication extension
