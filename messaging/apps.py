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
        from incidents.lifecycle import (
            register_back_office_contest,
            register_customer_message,
            register_opening_notice,
            register_operator_objection,
            register_shop_action,
        )
        from incidents.resolution import register_resolution_check
        from messaging import outbox  # noqa: F401 - registers the M12 and OR43 adapters
        from messaging.models import CannedReply
        from messaging.selectors import (
            first_customer_message_since_resolved,
            first_operator_message_since_resolved,
            first_shop_message_since_opened,
            opening_notice_unseen,
            operator_contest_unseen,
            waiting_thread_refusal,
        )
        from messaging.sync_threads import THREADS, threads_after_run

        register_resource(THREADS)
        register_after_run(threads_after_run, position=10)
        register_shop_action("message", first_shop_message_since_opened)
        register_operator_objection("message", first_operator_message_since_resolved)
        register_customer_message("message", first_customer_message_since_resolved)
        register_opening_notice("message", opening_notice_unseen)
        register_back_office_contest("message", operator_contest_unseen)
        register_resolution_check(waiting_thread_refusal)

        post_save.connect(_forget_canned_replies, sender=CannedReply, dispatch_uid="canned-save")
        post_delete.connect(
            _forget_canned_replies, sender=CannedReply, dispatch_uid="canned-delete"
        )
