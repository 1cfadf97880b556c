"""API views of SLA breaches and KPIs, for those who review the SLA."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import KeysetCursorPagination, SortKey
from core.api.permissions import ApiView
from core.models import MarketplaceConnection
from core.params import IDENTIFIER_SCHEMA, query_identifier
from incidents.models import Incident
from sla.api.serializers import SlaBreachSerializer, SlaKpiSerializer
from sla.models import SlaBreach

__all__ = ["SlaBreachViewSet", "SlaKpiView"]

REVIEW = ["incidents.review_sla"]


class BreachPagination(KeysetCursorPagination):
    """Latest due first."""

    orderings = {"-due_at": (SortKey("due_at", descending=True), SortKey("pk", descending=True))}
    default_ordering = "-due_at"


@extend_schema_view(
    list=extend_schema(
        summary="Missed deadlines, latest first",
        parameters=[
            OpenApiParameter("marketplace", IDENTIFIER_SCHEMA, description="Marketplace code")
        ],
    ),
)
class SlaBreachViewSet(ApiView, viewsets.GenericViewSet, mixins.ListModelMixin):
    """Breaches from ``sla.selectors.sla_breach_list``."""

    serializer_class = SlaBreachSerializer
    pagination_class = BreachPagination
    filter_backends = ()
    required_permissions: ClassVar[dict[str, list[str]]] = {"GET": REVIEW}

    def get_queryset(self) -> QuerySet[SlaBreach]:
        from sla.selectors import sla_breach_list

        connection = None
        code = query_identifier(self.request.query_params, "marketplace", strict=True)
        if code:
            connection = MarketplaceConnection.objects.filter(code=code).first()
            if connection is None:
                return SlaBreach.objects.none()
        return sla_breach_list(connection=connection)


class SlaKpiView(ApiView, APIView):
    """Per marketplace: open waits by state, recent and unanswered breaches."""

    required_permissions: ClassVar[dict[str, list[str]]] = {"GET": REVIEW}

    @extend_schema(summary="SLA KPIs per marketplace", responses=SlaKpiSerializer(many=True))
    def get(self, request: Request) -> Response:
        from sla.selectors import sla_breach_list, sla_item_counts

        now = timezone.now()
        rows = []
        for connection in MarketplaceConnection.objects.order_by("name", "pk"):
            counts = sla_item_counts(connection=connection)
            breaches = sla_breach_list(connection=connection, now=now).order_by()
            rows.append(
                {
                    "marketplace": connection.code,
                    "name": connection.name,
                    "open_on_time": counts["on_time"],
                    "open_nearing": counts["nearing"],
                    "open_breached": counts["breached"],
                    "breaches_last_30_days": breaches.filter(
                        due_at__gte=now - timedelta(days=30)
                    ).count(),
                    "breaches_unanswered": breaches.filter(answered_at__isnull=True).count(),
                    "open_incidents": Incident.objects.filter(
                        connection=connection, closed_at__isnull=True
                    ).count(),
                }
            )
        return Response(SlaKpiSerializer(rows, many=True).data)
