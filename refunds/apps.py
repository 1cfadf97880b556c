from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RefundsConfig(AppConfig):
    name = "refunds"
    verbose_name = _("Refunds")

    def ready(self) -> None:
        # Imported here, not at the top: models, and the registries the apps fill, exist
        # only once every app is loaded.
        from core.sync.registry import register_order_page_handler, register_run_scope
        from incidents.lifecycle import register_witness
        from refunds import outbox  # noqa: F401 - registers the OR28 adapter
        from refunds.selectors import refunds_witnessed
        from refunds.sync import LineRefunds, refunds_awaited_once

        register_order_page_handler(LineRefunds())
        register_run_scope(refunds_awaited_once)
        register_witness("refunds", refunds_witnessed)
