from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "clicknback.audit"
    label = "audit"
    verbose_name = "Audit log"
