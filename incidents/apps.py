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
        _forget_assignable_users_on_change()
        # After the threads are linked to their orders (messaging's hook, position 10).
        register_after_run(incidents_after_run, position=100)


def _forget_assignable_users_on_change() -> None:
    """Who may be assigned is cached (:func:`incidents.selectors.assignable_user_choices`):
    forgotten when a user, a group or their permissions change."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from incidents.selectors import assignable_users_forget

    user = get_user_model()
    for model in (user, Group):
        for signal in (post_save, post_delete):
            signal.connect(
                assignable_users_forget,
                sender=model,
                dispatch_uid=f"assignable-users-{signal is post_save}-{model._meta.label}",
            )
    for through in (user.groups.through, user.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(
            assignable_users_forget,
            sender=through,
            dispatch_uid=f"assignable-users-m2m-{through._meta.label}",
        )
