"""What a wait is about, in words: its order number, the reason's label and its page.

Alerts, notifications, the digest, breach rows on ``/sla/`` and their CSV say which
order and which reason a deadline belongs to (never a raw Mirakl code) and link to the
page where it is answered: the incident's, or the order's at the conversation.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from core.reasons import connection_reasons

__all__ = ["thread_reason_label", "wait_order_number", "wait_path", "wait_reason_label"]

_TOPIC_REASON_CODE = "REASON_CODE"


def thread_reason_label(thread: Any) -> str:
    """A conversation's subject: the label of its reason (from the marketplace's cached
    list), or the subject the shop or the customer wrote; "" for an unknown code."""
    if thread is None:
        return ""
    if thread.topic_type != _TOPIC_REASON_CODE:
        return str(thread.topic_value or "")
    for reasons in connection_reasons(connection_id=thread.connection_id).values():
        for code, label in reasons:
            if code == thread.topic_value:
                return str(label or "")
    return ""


def wait_reason_label(*, incident: Any = None, thread: Any = None) -> str:
    """The reason's label of an incident, or of a conversation."""
    if incident is not None:
        return str(incident.reason_label or "")
    return thread_reason_label(thread)


def wait_order_number(*, incident: Any = None, thread: Any = None) -> str:
    """The Mirakl order number of an incident or a conversation ("" without order)."""
    if incident is not None:
        return str(incident.order.mirakl_id)
    if thread is not None and thread.order_id is not None:
        return str(thread.order.mirakl_id)
    return ""


def wait_path(*, incident_id: int | None = None, thread: Any = None) -> str:
    """The page where the wait is answered: the incident's, or the order's at the
    conversation; the SLA review when the conversation has no order."""
    if incident_id is not None:
        return reverse("desk:incident", args=[incident_id])
    if thread is not None and thread.order_id is not None:
        return f"{reverse('desk:order', args=[thread.order_id])}#thread-{thread.pk}"
    return reverse("sla:review")
