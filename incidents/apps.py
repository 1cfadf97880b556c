from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        # Imported here, not at the top: models, and the registries the apps fill, exist
        # only once every app is loaded.
        from core.sync.registry import register_after_run, register_order_page_handler
        from incidents import outbox  # noqa: F401 - registers the OR64 adapter
        from incidents.sync import IncidentEpisodes, incidents_after_run

        register_order_page_handler(IncidentEpisodes())
        # After the threads are linked to their orders (messaging's hook, position 10).
        register_after_run(incidents_after_run, position=100)
