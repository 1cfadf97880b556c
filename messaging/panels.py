"""The messages panel of the order and incident pages: threads with their reply boxes.

Asked for by the page (:mod:`desk.pages.order`) and by this app's views when they
re-render a thread.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.models import Order
from core.reasons import order_reasons
from messaging.constants import BACK_OFFICE_ORDER_PATH, MESSAGING_REASON_TYPE
from messaging.forms import NewThreadForm, NoReplyForm, ReplyForm
from messaging.selectors import ThreadView, canned_replies_cached, order_conversations

__all__ = [
    "NEW_THREAD_PREFIX",
    "back_office_url",
    "conversation_context",
    "new_thread_reasons",
    "reply_form",
    "thread_entry",
    "thread_prefix",
]

NEW_THREAD_PREFIX = "new"


def thread_prefix(view: ThreadView) -> str:
    return f"thread-{view.key}"


def reply_form(view: ThreadView, data: Any = None, files: Any = None) -> ReplyForm:
    last = view.last_message
    return ReplyForm(
        data,
        files,
        prefix=thread_prefix(view),
        customer_allowed=view.customer_participant,
        initial={
            "recipient": view.default_choice,
            "last_message_id": last.mirakl_id if last else "",
        },
    )


def thread_entry(
    view: ThreadView, *, form: ReplyForm | None = None, confirm: list | None = None
) -> dict[str, Any]:
    return {
        "view": view,
        "form": form or (reply_form(view) if view.thread is not None else None),
        "no_reply_form": NoReplyForm(prefix=f"{thread_prefix(view)}-noreply"),
        "confirm": confirm or [],
    }


def new_thread_reasons(order: Order) -> list[tuple[str, str]]:
    return order_reasons(connection_id=order.connection_id, reason_type=MESSAGING_REASON_TYPE)


def conversation_context(
    request: HttpRequest,
    order: Order,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    new_thread_form: NewThreadForm | None = None,
    new_thread_confirm: list | None = None,
    views: list[ThreadView] | None = None,
    reasons: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """What the messages panel needs: threads with their reply boxes, canned replies.

    ``views`` (the order's conversations) and ``reasons`` (ORDER_MESSAGING) when the
    page already read them."""
    overrides = overrides or {}
    if views is None:
        views = order_conversations(order_id=order.pk)
    canned = canned_replies_cached()
    return {
        "threads": [{**thread_entry(view), **overrides.get(view.key, {})} for view in views],
        "thread_count": len(views),
        "new_thread_form": new_thread_form
        or NewThreadForm(
            prefix=NEW_THREAD_PREFIX,
            reasons=new_thread_reasons(order) if reasons is None else reasons,
        ),
        "new_thread_confirm": new_thread_confirm or [],
        "canned_replies": canned,
        "can_reply": request.user.has_perm("incidents.reply_incident"),
        "back_office_url": back_office_url(order),
    }


def back_office_url(order: Order) -> str:
    """The order in the seller back office (where "no reply required" can be set)."""
    base = order.connection.base_url.rstrip("/")
    return base + BACK_OFFICE_ORDER_PATH.format(order_id=order.mirakl_id)
