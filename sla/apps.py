from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("SLA")

    def ready(self) -> None:
        from sla import outbox  # noqa: F401 - registers the alert webhook and e-mail adapters
        from sla.alerts import on_sla_state_changed
        from sla.signals import sla_state_changed

        sla_state_changed.connect(on_sla_state_changed, dispatch_uid="sla.alerts")
