"""API views of marketplaces, incidents and orders."""

from __future__ import annotations

from typing import ClassVar

from django.db.models import F, Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.lookups import MARKETPLACE_PARAMETER, get_by_mirakl_id
from core.api.pagination import KeysetCursorPagination
from core.api.permissions import READ, ApiView, StableCursorPagination
from core.models import MarketplaceConnection, Order, OrderLine
from core.params import query_identifier
from core.scoping import scope_queryset
from desk.api.filtersets import (
    INCIDENT_ORDERINGS,
    ORDERING_DEFAULT,
    QUEUE_ORDERING_DEFAULT,
    QUEUE_ORDERINGS,
    IncidentApiFilterSet,
    QueueApiFilterSet,
)
from desk.api.serializers import (
    BulkResponseSerializer,
    BulkSerializer,
    IncidentSerializer,
    MarketplaceConnectionSerializer,
    OrderDetailSerializer,
    OrderSerializer,
    QueueEntrySerializer,
    ResolveSerializer,
)
from desk.bulk import BULK_PERMISSIONS, queue_bulk_apply
from desk.selectors import queue_entries
from incidents.models import Incident
from refunds.models import Refund
from sla.models import QueueEntry
from sla.selectors import incident_due_annotate

__all__ = [
    "IncidentBulkView",
    "IncidentResolveView",
    "IncidentViewSet",
    "MarketplaceConnectionViewSet",
    "OrderViewSet",
    "QueueViewSet",
]


@extend_schema_view(
    list=extend_schema(summary="Marketplaces"),
    retrieve=extend_schema(summary="One marketplace"),
    create=extend_schema(summary="Add a marketplace (admins)"),
    update=extend_schema(summary="Change a marketplace (admins)"),
    partial_update=extend_schema(summary="Change some fields of a marketplace (admins)"),
)
class MarketplaceConnectionViewSet(
    ApiView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Every role reads the marketplaces; only admins add or change them."""

    queryset = MarketplaceConnection.objects.prefetch_related("sync_cursors").order_by("name", "pk")
    serializer_class = MarketplaceConnectionSerializer

    def get_queryset(self) -> QuerySet[MarketplaceConnection]:
        return scope_queryset(super().get_queryset(), self.request.user, "pk")

    pagination_class = None
    filter_backends = ()
    required_permissions: ClassVar[dict[str, list[str]]] = {
        "GET": [READ],
        "POST": ["core.add_marketplaceconnection"],
        "PUT": ["core.change_marketplaceconnection"],
        "PATCH": ["core.change_marketplaceconnection"],
    }


class IncidentPagination(KeysetCursorPagination):
    """Latest opened first, or the sort ``?ordering=`` names (see the filters)."""

    orderings = INCIDENT_ORDERINGS
    default_ordering = ORDERING_DEFAULT


@extend_schema_view(
    list=extend_schema(summary="Incidents (the inbox's filters; open ones by default)"),
    retrieve=extend_schema(summary="One incident"),
)
class IncidentViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    """Incidents, filtered like the inbox; ``?order=`` finds those of one Mirakl order."""

    serializer_class = IncidentSerializer
    filterset_class = IncidentApiFilterSet
    pagination_class = IncidentPagination

    def get_queryset(self) -> QuerySet[Incident]:
        return incident_due_annotate(
            scope_queryset(
                Incident.objects.select_related(
                    "connection", "order", "line", "assignment__assignee"
                ),
                self.request.user,
            )
        ).annotate(
            # The ``due`` sort's key: the incident's due time on its queue row.
            reply_due_at=F("queue_entry__reply_due_at")
        )


class QueuePagination(KeysetCursorPagination):
    """The queue's own sort (earliest deadline first), or what ``?ordering=`` names."""

    orderings = QUEUE_ORDERINGS
    default_ordering = QUEUE_ORDERING_DEFAULT


@extend_schema_view(
    list=extend_schema(
        summary="The queue of what the shop owes (incidents and conversations; open rows by "
        "default, earliest deadline first)"
    ),
    retrieve=extend_schema(summary="One row of the queue"),
)
class QueueViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    """What the shop owes, as the queue page lists it: one row per incident and per
    conversation of an order without incident, filtered by the same FilterSet."""

    serializer_class = QueueEntrySerializer
    filterset_class = QueueApiFilterSet
    pagination_class = QueuePagination

    def get_queryset(self) -> QuerySet[QueueEntry]:
        return queue_entries(user=self.request.user).select_related(
            "connection", "incident__assignment__assignee"
        )


@extend_schema_view(
    list=extend_schema(
        summary="Orders",
        parameters=[MARKETPLACE_PARAMETER],
    ),
    retrieve=extend_schema(
        summary="One order by its Mirakl id, with lines and refunds",
        parameters=[
            OpenApiParameter("mirakl_id", OpenApiTypes.STR, OpenApiParameter.PATH),
            MARKETPLACE_PARAMETER,
        ],
    ),
)
class OrderViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    """Orders by Mirakl order id, with their lines and each line's refunds."""

    lookup_field = "mirakl_id"
    lookup_value_regex = r"[^/\x00]+"
    pagination_class = StableCursorPagination
    filter_backends = ()
    required_permissions: ClassVar[dict[str, list[str]]] = {
        "GET": ["core.view_order"],
    }

    def get_serializer_class(self) -> type:
        return OrderDetailSerializer if self.action == "retrieve" else OrderSerializer

    def get_queryset(self) -> QuerySet[Order]:
        orders = scope_queryset(Order.objects.select_related("connection"), self.request.user)
        if self.action == "retrieve":
            lines = OrderLine.objects.order_by("index", "mirakl_id").prefetch_related(
                Prefetch(
                    "refunds",
                    queryset=Refund.objects.select_related("line__order__connection").order_by(
                        "created_date", "pk"
                    ),
                )
            )
            orders = orders.prefetch_related(Prefetch("lines", queryset=lines))
        marketplace = query_identifier(self.request.query_params, "marketplace", strict=True)
        if marketplace and self.action == "list":
            orders = orders.filter(connection__code=marketplace)
        return orders

    def get_object(self) -> Order:
        order = get_by_mirakl_id(
            self.get_queryset(),
            mirakl_id=self.kwargs["mirakl_id"],
            params=self.request.query_params,
        )
        self.check_object_permissions(self.request, order)
        return order


class IncidentResolveView(ApiView, generics.GenericAPIView):
    """``POST /api/v1/incidents/<Mirakl order id>/resolve/``: mark the order's incident
    resolved (OR64 is sent by a worker). 202 with the incident; 400 with the reason
    when it cannot be resolved now."""

    serializer_class = ResolveSerializer
    filter_backends = ()
    pagination_class = None
    required_permissions: ClassVar[dict[str, list[str]]] = {
        "POST": [READ, "incidents.resolve_incident"],
    }

    def get_queryset(self) -> QuerySet[Order]:
        return scope_queryset(Order.objects.select_related("connection"), self.request.user)

    @extend_schema(
        summary="Mark an order's incident resolved (OR64 sent by a worker)",
        parameters=[
            OpenApiParameter(
                "order_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Mirakl order id"
            ),
            MARKETPLACE_PARAMETER,
        ],
        request=ResolveSerializer,
        responses={202: IncidentSerializer, 400: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, order_id: str) -> Response:
        from incidents.models import AuditEntry
        from incidents.resolution import ResolutionRefused, incident_resolve

        serializer = ResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = get_by_mirakl_id(
            self.get_queryset(),
            mirakl_id=order_id,
            params=request.query_params,
        )
        self.check_object_permissions(request, order)
        incidents = Incident.objects.filter(order=order).select_related("line")
        line = serializer.validated_data.get("line")
        if line:
            incidents = incidents.filter(line__mirakl_id=line)
        open_ones = list(incidents.filter(closed_at__isnull=True)[:2])
        if len(open_ones) > 1:
            raise ValidationError(
                {"line": _("This order has several open incidents: name the line.")}
            )
        incident = open_ones[0] if open_ones else incidents.order_by("-opened_at", "-pk").first()
        if incident is None:
            message = _("No incident on this line.") if line else _("This order has no incident.")
            raise ValidationError({"line": message})
        try:
            incident_resolve(
                incident=incident,
                reason_code=serializer.validated_data["reason_code"],
                actor=request.user,
                source=AuditEntry.Source.API,
            )
        except ResolutionRefused as exc:
            return Response(
                {"detail": " ".join(exc.messages), "code": "refused"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        incident = incident_due_annotate(
            Incident.objects.select_related("connection", "order", "line", "assignment__assignee")
        ).get(pk=incident.pk)
        return Response(IncidentSerializer(incident).data, status=status.HTTP_202_ACCEPTED)


class IncidentBulkView(ApiView, generics.GenericAPIView):
    """``POST /api/v1/incidents/bulk/``: assign, "no reply required" or mark resolved on
    several rows of the queue (incidents, conversations without an incident), each
    through the single action's service; one result per row (done, or refused and why).
    The action's own permission is needed (403 otherwise)."""

    serializer_class = BulkSerializer
    filter_backends = ()
    pagination_class = None
    required_permissions: ClassVar[dict[str, list[str]]] = {"POST": [READ]}

    @extend_schema(
        summary="Bulk action on queue rows: assign, no reply required, mark resolved",
        request=BulkSerializer,
        responses={200: BulkResponseSerializer, 400: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        from incidents.models import AuditEntry

        serializer = BulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not request.user.has_perm(BULK_PERMISSIONS[data["action"]]):
            raise PermissionDenied
        results = queue_bulk_apply(
            action=data["action"],
            user=request.user,
            incident_ids=data["incidents"],
            thread_ids=data["threads"],
            assignee=data.get("assignee_user"),
            reason=data.get("reason") or "",
            reason_code=data.get("reason_code") or "",
            confirmed=data["confirm"],
            source=AuditEntry.Source.API,
        )
        return Response(BulkResponseSerializer({"results": results}).data)
