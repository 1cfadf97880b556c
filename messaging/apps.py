from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _forget_canned_replies(**kwargs: Any) -> None:
    from django.db import transaction

    # Not at the top: this module is imported before the models are ready.
    from messaging.selectors import canned_replies_forget

    # Now and once committed: a page read in between must not keep the old list.
    canned_replies_forget()
    transaction.on_commit(canned_replies_forget)


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        # Imported here, not at the top: models, and the registries the apps fill, exist
        # only once every app is loaded.
        from django.db.models.signals import post_delete, post_save

        from core.sync.registry import register_after_run, register_resource
        from incidents.lifecycle import register_witness
        from incidents.resolution import register_resolution_check
        from messaging import outbox  # noqa: F401 - registers the M12 and OR43 adapters
        from messaging.models import CannedReply
        from messaging.selectors import messages_witnessed, waiting_thread_refusal
        from messaging.sync_threads import THREADS, threads_after_run

        register_resource(THREADS)
        register_after_run(threads_after_run, position=10)
        register_witness("messages", messages_witnessed)
        register_resolution_check(waiting_thread_refusal)

        post_save.connect(_forget_canned_replies, sender=CannedReply, dispatch_uid="canned-save")
        post_delete.connect(
            _forget_canned_replies, sender=CannedReply, dispatch_uid="canned-delete"
        )
