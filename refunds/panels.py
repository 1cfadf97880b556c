"""The refunds panel of the order and incident pages: what was refunded, what may still
be, requests.

Asked for by the page (:mod:`desk.pages.order`) and by this app's views.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from incidents.subject import PageSubject
from refunds import selectors
from refunds.forms import RejectForm
from refunds.rules import REFUND_PERMISSION

__all__ = ["panel_context"]


def panel_context(
    request: HttpRequest,
    subject: PageSubject,
    *,
    errors: dict[int, list[str]] | None = None,
    reject_forms: dict[int, RejectForm] | None = None,
) -> dict[str, Any]:
    """What ``refunds/partials/_refunds.html`` needs (also used by its template tag)."""
    panel = selectors.refund_panel(order=subject.order)
    reject_forms = reject_forms or {}
    for refund_request in panel.requests:
        refund_request.approval_errors = (errors or {}).get(refund_request.pk, [])
        refund_request.reject_form = reject_forms.get(refund_request.pk) or RejectForm(
            prefix=f"reject-{refund_request.pk}"
        )
    return {
        "incident": subject.incident,
        "order": subject.order,
        "refunds": panel,
        "can_refund": request.user.has_perm(REFUND_PERMISSION),
        "user": request.user,
    }
