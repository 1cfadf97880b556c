from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeskConfig(AppConfig):
    """The top floor: the pages that compose several apps (overview, queue, order page)."""

    name = "desk"
    verbose_name = _("Desk")

    def ready(self) -> None:
        # Imported here, not at the top: models, and the registries the apps fill, exist
        # only once every app is loaded.
        from core.pages import page_register
        from desk.pages.incident import incident_page
        from desk.pages.order import order_page

        page_register("incident", incident_page)
        page_register("order", order_page)
