from django.apps import AppConfig


class FlagsConfig(AppConfig):
    name = "clicknback.flags"
    label = "flags"
    verbose_name = "Feature flags"
