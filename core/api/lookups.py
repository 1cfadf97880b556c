"""Looking objects up by Mirakl id in the API, whichever app's objects they are."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from core.params import IDENTIFIER_SCHEMA, identifier_or_404, query_identifier

__all__ = ["MARKETPLACE_PARAMETER", "get_by_mirakl_id"]

#: Mirakl ids are unique per marketplace only: this picks one when two share an id.
MARKETPLACE_PARAMETER = OpenApiParameter(
    "marketplace",
    IDENTIFIER_SCHEMA,
    description="Marketplace code, needed when two marketplaces use the same Mirakl id.",
)


def get_by_mirakl_id(queryset: QuerySet, *, mirakl_id: str, params: Any) -> Any:
    """The one object of ``queryset`` with this Mirakl id (and ``?marketplace=`` code).

    404 when there is none (an id with a control character cannot exist); 400 when
    several marketplaces have it and none was named, or the code is not an identifier.
    """
    mirakl_id = identifier_or_404(mirakl_id)
    marketplace = query_identifier(params, "marketplace", strict=True)
    matches = queryset.filter(mirakl_id=mirakl_id)
    if marketplace:
        matches = matches.filter(connection__code=marketplace)
    found = list(matches[:2])
    if not found:
        raise Http404
    if len(found) > 1:
        raise ValidationError(
            {"marketplace": _("Several marketplaces have this id: name one with ?marketplace=.")}
        )
    return found[0]
