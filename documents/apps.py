from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = _("Order documents")

    def ready(self) -> None:
        from documents import outbox  # noqa: F401 - registers the OR74 adapter
