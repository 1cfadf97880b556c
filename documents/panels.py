"""The documents panel of the order's pages ("Documentos"): Mirakl's documents of the
order, our uploads, and the upload form.

The page includes ``documents/partials/_documents.html`` with the order; the panel's
content is fetched by htmx once the page is shown (:func:`documents.views.documents_panel`),
so a slow Mirakl never holds the page.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.models import Order
from documents.forms import DocumentUploadForm
from documents.selectors import order_documents, upload_type_choices

__all__ = ["UPLOAD_PERMISSION", "documents_panel_context"]

#: Who may upload: whoever may write to the order's parties (agents).
UPLOAD_PERMISSION = "incidents.reply_incident"


def documents_panel_context(
    request: HttpRequest,
    order: Order,
    *,
    form: DocumentUploadForm | None = None,
    incident_pk: int | None = None,
    notice: str = "",
) -> dict[str, Any]:
    """What ``documents/partials/_documents_body.html`` needs."""
    can_upload = request.user.has_perm(UPLOAD_PERMISSION)
    if can_upload and form is None:
        form = DocumentUploadForm(types=upload_type_choices(connection=order.connection))
    return {
        "order": order,
        "listing": order_documents(order=order),
        "upload_form": form if can_upload else None,
        "incident_pk": incident_pk,
        "notice": notice,
    }
