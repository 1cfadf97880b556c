"""API views of SLA breaches and KPIs, for those who review the SLA."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

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
from core.scoping import scope_queryset
from incidents.models import Incident
from sla.api.serializers import (
    BalanceSerializer,
    ShopHealthSerializer,
    SlaBreachSerializer,
    SlaKpiSerializer,
)
from sla.health.figures import marketplace_health, marketplaces_health
from sla.models import SlaBreach
from sla.selectors import sla_breach_list, sla_item_counts

__all__ = [
    "ShopBalanceView",
    "ShopHealthDetailView",
    "ShopHealthListView",
    "SlaBreachViewSet",
    "SlaKpiView",
]

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
        connection = None
        code = query_identifier(self.request.query_params, "marketplace", strict=True)
        if code:
            connection = MarketplaceConnection.objects.filter(code=code).first()
            if connection is None:
                return SlaBreach.objects.none()
        return scope_queryset(sla_breach_list(connection=connection), self.request.user)


class SlaKpiView(ApiView, APIView):
    """Per marketplace: open waits by state, recent and unanswered breaches."""

    required_permissions: ClassVar[dict[str, list[str]]] = {"GET": REVIEW}

    @extend_schema(summary="SLA KPIs per marketplace", responses=SlaKpiSerializer(many=True))
    def get(self, request: Request) -> Response:
        now = timezone.now()
        rows = []
        connections = scope_queryset(MarketplaceConnection.objects.all(), request.user, "pk")
        for connection in connections.order_by("name", "pk"):
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


def _connection(code: str, user: Any) -> MarketplaceConnection:
    from django.shortcuts import get_object_or_404

    connections = scope_queryset(MarketplaceConnection.objects.all(), user, "pk")
    return get_object_or_404(connections, code=code)


class ShopHealthListView(ApiView, APIView):
    """Every active marketplace's shop health (as ``/sla/health/``)."""

    required_permissions: ClassVar[dict[str, list[str]]] = {"GET": REVIEW}

    @extend_schema(
        summary="Shop health of every marketplace: state, balance, criteria, projections",
        responses=ShopHealthSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        connections = scope_queryset(
            MarketplaceConnection.objects.filter(is_active=True), request.user, "pk"
        )
        healths = marketplaces_health(connections=list(connections.order_by("name")))
        return Response(ShopHealthSerializer(healths, many=True).data)


class ShopHealthDetailView(ApiView, APIView):
    """One marketplace's shop health (as ``/sla/health/<code>/``)."""

    required_permissions: ClassVar[dict[str, list[str]]] = {"GET": REVIEW}

    @extend_schema(
        summary="Shop health of one marketplace (by code)", responses=ShopHealthSerializer
    )
    def get(self, request: Request, code: str) -> Response:
        health = marketplace_health(connection=_connection(code, request.user))
        return Response(ShopHealthSerializer(health).data)


class ShopBalanceView(ApiView, APIView):
    """The last known payable balance of a marketplace, and what weighs on it."""

    required_permissions: ClassVar[dict[str, list[str]]] = {"GET": REVIEW}

    @extend_schema(
        summary="Last known payable balance of one marketplace", responses=BalanceSerializer
    )
    def get(self, request: Request, code: str) -> Response:
        from decimal import Decimal

        from core.shop_account import shop_account_last
        from incidents.selectors import orders_held_by_open_incidents
        from refunds.balance import refund_balance_check

        connection = _connection(code, request.user)
        now = timezone.now()
        account = shop_account_last(connection=connection)
        check = refund_balance_check(connection=connection, total=Decimal(0), now=now)
        held = orders_held_by_open_incidents(connection_ids=[connection.pk])
        return Response(
            BalanceSerializer(
                {
                    "marketplace": connection.code,
                    "currency": account.currency if account else "",
                    "payable_balance": account.payable_balance if account else None,
                    "pending_balance": account.pending_balance if account else None,
                    "as_of": account.fetched_at if account else None,
                    "age_seconds": int((now - account.fetched_at).total_seconds())
                    if account
                    else None,
                    "refunds_asked_since": check.asked_since,
                    "available": check.available,
                    "held_by_open_incidents": held.get(connection.pk, (0, Decimal(0)))[1],
                }
            ).data
        )
