from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting pieces that need an app: the shared cache table, demo data, templates."""

    name = "clicknback.core"
    label = "core"
