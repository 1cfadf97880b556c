"""API views of refunds (read-only: asking Mirakl for a refund is not in the API yet)."""

from __future__ import annotations

from typing import ClassVar

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets

from incidents.api.permissions import ApiView, StableCursorPagination
from refunds.api.serializers import RefundSerializer
from refunds.models import Refund

__all__ = ["RefundViewSet"]


@extend_schema_view(
    list=extend_schema(
        summary="Refunds, newest first",
        parameters=[
            OpenApiParameter("order", OpenApiTypes.STR, description="Mirakl order id"),
            OpenApiParameter("marketplace", OpenApiTypes.STR, description="Marketplace code"),
        ],
    ),
)
class RefundViewSet(ApiView, viewsets.GenericViewSet, viewsets.mixins.ListModelMixin):
    """Refunds synced from Mirakl."""

    serializer_class = RefundSerializer
    pagination_class = StableCursorPagination
    filter_backends: ClassVar[list] = []
    required_permissions: ClassVar[dict[str, list[str]]] = {"GET": ["refunds.view_refund"]}

    def get_queryset(self) -> QuerySet[Refund]:
        refunds = Refund.objects.select_related("line__order__connection")
        params = self.request.query_params
        if params.get("order"):
            refunds = refunds.filter(line__order__mirakl_id=params["order"])
        if params.get("marketplace"):
            refunds = refunds.filter(line__order__connection__code=params["marketplace"])
        return refunds
