from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("SLA")

    def ready(self) -> None:
        # Imported here, not at the top: models, and the registries the apps fill, exist
        # only once every app is loaded.
        from incidents.selectors import incident_page_additions
        from incidents.signals import incidents_contested, incidents_written_after_resolved
        from messaging.selectors import thread_annotations
        from refunds.signals import refund_awaiting_approval
        from sla import outbox  # noqa: F401 - registers the alert webhook and e-mail adapters
        from sla.alerts import (
            on_incidents_contested,
            on_incidents_written_after_resolved,
            on_refund_awaiting_approval,
            on_sla_state_changed,
        )
        from sla.selectors import incident_next_due_set, thread_due_annotate
        from sla.signals import sla_state_changed

        sla_state_changed.connect(on_sla_state_changed, dispatch_uid="sla.alerts")
        incidents_contested.connect(on_incidents_contested, dispatch_uid="sla.contested")
        incidents_written_after_resolved.connect(
            on_incidents_written_after_resolved, dispatch_uid="sla.written_after_resolved"
        )
        refund_awaiting_approval.connect(
            on_refund_awaiting_approval, dispatch_uid="sla.refund_approval"
        )
        # The incident page's header shows the soonest open wait of the incident and its
        # conversations; each conversation its own.
        incident_page_additions.register(incident_next_due_set)
        thread_annotations.register(thread_due_annotate)
