from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """The bottom floor: connections, orders, the sync and outbox engines, roles."""

    name = "core"
    verbose_name = _("Marketplaces")

    def ready(self) -> None:
        # Imported here, not at the top: models, and the registries the apps fill, exist
        # only once every app is loaded.
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_migrate, post_save

        from core.freshness import inbox_filters_changed
        from core.i18n_kept import kept_translate_install
        from core.models import MarketplaceConnection, MarketplaceReason
        from core.outbox import checks  # noqa: F401 - registers the system check
        from core.reasons import REASONS
        from core.roles import roles_sync
        from core.sync.orders import ORDERS
        from core.sync.registry import register_resource

        register_resource(REASONS)
        register_resource(ORDERS)
        # The inbox's filter form lists marketplaces, incident reasons and users.
        for model in (MarketplaceConnection, MarketplaceReason, get_user_model()):
            for signal in (post_save, post_delete):
                signal.connect(
                    inbox_filters_changed,
                    sender=model,
                    dispatch_uid=f"inbox-filters-{signal is post_save}-{model._meta.label}",
                )
        post_migrate.connect(roles_sync, dispatch_uid="core.roles_sync")
        # {% translate "text" %} rendered once per language (core.i18n_kept).
        kept_translate_install()
