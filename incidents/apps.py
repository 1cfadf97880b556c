from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from incidents import outbox  # noqa: F401 - registers the OR64 adapter
        from incidents.freshness import inbox_filters_changed
        from incidents.models import MarketplaceConnection, MarketplaceReason

        # The inbox's filter form lists marketplaces, incident reasons and users.
        for model in (MarketplaceConnection, MarketplaceReason, get_user_model()):
            for signal in (post_save, post_delete):
                signal.connect(
                    inbox_filters_changed,
                    sender=model,
                    dispatch_uid=f"inbox-filters-{signal is post_save}-{model._meta.label}",
                )
