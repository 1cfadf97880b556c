"""API views of refunds: synced refunds, and refund requests sent to Mirakl (OR28).

``POST /api/v1/refunds/`` asks for a refund. It needs an ``Idempotency-Key`` header:
sending the same key again returns the first request (200) instead of refunding twice.
The request is validated and stored at once; a worker sends it to Mirakl, so the answer
shows its state (``queued``, or ``awaiting_approval`` when it takes the caller above
their limit on that order).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.permissions import READ, ApiView, StableCursorPagination
from core.models import Order, OrderLine
from core.params import (
    IDENTIFIER_SCHEMA,
    ParameterError,
    parse_identifier,
    query_identifier,
)
from core.scoping import scope_queryset
from incidents.models import AuditEntry
from refunds.api.serializers import (
    RefundCreateSerializer,
    RefundDecisionSerializer,
    RefundRequestSerializer,
    RefundSerializer,
)
from refunds.balance import refund_balance_check
from refunds.models import Refund, RefundRequest, RefundRequestLine
from refunds.rules import (
    REFUND_PERMISSION,
    RefundApprovalError,
    RefundIdempotencyError,
    RefundLineInput,
    RefundValidationError,
)
from refunds.services import refund_request_approve, refund_request_create, refund_request_reject

__all__ = ["RefundRequestViewSet", "RefundViewSet"]

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="A unique string chosen by the caller (a UUID is best), at most 255 "
    "characters: sending it again returns the same refund request instead of refunding "
    "twice.",
)
_NON_FIELD = "non_field_errors"


def _idempotency_key(request: Request) -> str:
    raw = request.headers.get("Idempotency-Key", "").strip()
    if not raw:
        raise ValidationError(
            {"Idempotency-Key": [_("This header is required: a unique key per refund.")]}
        )
    key = parse_identifier(raw)
    if key is None:
        raise ValidationError(
            {"Idempotency-Key": [_("Use at most 255 characters, without control characters.")]}
        )
    return key


def _find_order(order_id: str, marketplace: str | None, user: Any) -> Order:
    orders = scope_queryset(
        Order.objects.select_related("connection").filter(mirakl_id=order_id), user
    )
    if marketplace:
        orders = orders.filter(connection__code=marketplace)
    found = list(orders[:2])
    if not found:
        raise ValidationError({"order": [_("No order with this id.")]})
    if len(found) > 1:
        raise ValidationError(
            {"marketplace": [_("Several marketplaces have this order id: name one.")]}
        )
    return found[0]


def _line_inputs(order: Order, lines: list[dict[str, Any]]) -> list[RefundLineInput]:
    """The service's inputs; Mirakl line ids that are not on the order are 400s here."""
    pks = dict(
        OrderLine.objects.filter(
            order=order, mirakl_id__in=[line["order_line_id"] for line in lines]
        ).values_list("mirakl_id", "pk")
    )
    unknown = {
        line["order_line_id"]: {
            _NON_FIELD: [
                _("This line is not part of order %(order)s.") % {"order": order.mirakl_id}
            ]
        }
        for line in lines
        if line["order_line_id"] not in pks
    }
    if unknown:
        raise ValidationError({"lines": unknown})
    return [
        RefundLineInput(
            line_id=pks[line["order_line_id"]],
            quantity=line["quantity"],
            amount=line["amount"],
            shipping_amount=line["shipping_amount"],
            taxes=line["taxes"],
            shipping_taxes=line["shipping_taxes"],
        )
        for line in lines
    ]


def _errors_body(order: Order, exc: RefundValidationError) -> dict[str, Any]:
    """The service's (line pk, field) errors as the API's per-field errors.

    ``lines`` is keyed by Mirakl line id; ``__all__`` becomes ``non_field_errors``.
    """
    mirakl_ids = dict(OrderLine.objects.filter(order=order).values_list("pk", "mirakl_id"))
    body: dict[str, Any] = {}
    # By Mirakl line id, a line's errors by field; the errors about no line in particular
    # as a list under ``non_field_errors``.
    lines: dict[str, Any] = {}
    for (line_pk, name), messages in exc.errors.items():
        field = _NON_FIELD if name == "__all__" else name
        if line_pk is None and name == "lines":
            lines.setdefault(_NON_FIELD, []).extend(messages)
        elif line_pk is None:
            body.setdefault(field, []).extend(messages)
        else:
            key = mirakl_ids.get(line_pk, str(line_pk))
            lines.setdefault(key, {}).setdefault(field, []).extend(messages)
    if lines:
        body["lines"] = dict(lines)
    return body


@extend_schema_view(
    list=extend_schema(
        summary="Refunds synced from Mirakl, newest first",
        parameters=[
            OpenApiParameter("order", IDENTIFIER_SCHEMA, description="Mirakl order id"),
            OpenApiParameter("marketplace", IDENTIFIER_SCHEMA, description="Marketplace code"),
        ],
    ),
    create=extend_schema(
        summary="Ask Mirakl for a refund (stored, then sent by a worker)",
        parameters=[IDEMPOTENCY_KEY],
        request=RefundCreateSerializer,
        responses={
            201: RefundRequestSerializer,
            200: OpenApiResponse(
                RefundRequestSerializer, description="This Idempotency-Key was already used."
            ),
            400: OpenApiResponse(description="Per-field errors."),
            403: OpenApiResponse(description="No refund permission."),
            409: OpenApiResponse(description="Key already used for a different refund."),
        },
    ),
)
class RefundViewSet(ApiView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Refunds synced from Mirakl; ``POST`` asks for a new one."""

    serializer_class = RefundSerializer
    pagination_class = StableCursorPagination
    filter_backends = ()
    required_permissions: ClassVar[dict[str, list[str]]] = {
        "GET": ["refunds.view_refund"],
        "POST": [READ, REFUND_PERMISSION],
    }

    def get_serializer_class(self) -> type:
        if self.action == "create":
            return RefundCreateSerializer
        return RefundSerializer

    def get_queryset(self) -> QuerySet[Refund]:
        refunds = scope_queryset(
            Refund.objects.select_related("line__order__connection"),
            self.request.user,
            "line__order__connection",
        )
        if self.action != "list":
            return refunds
        params = self.request.query_params
        order = query_identifier(params, "order", strict=True)
        marketplace = query_identifier(params, "marketplace", strict=True)
        if order:
            refunds = refunds.filter(line__order__mirakl_id=order)
        if marketplace:
            refunds = refunds.filter(line__order__connection__code=marketplace)
        return refunds

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = _idempotency_key(request)
        serializer = RefundCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = _find_order(data["order"], data.get("marketplace") or None, request.user)
        lines = _line_inputs(order, data.get("lines") or [])
        if data["kind"] == RefundRequest.Kind.FULL and lines:
            # A full refund is "everything left", computed under the order's lock.
            lines = []
        try:
            refund_request, created = refund_request_create(
                order=order,
                lines=lines,
                reason_code=data["reason_code"],
                actor=request.user,
                idempotency_key=key,
                kind=data["kind"],
                source=AuditEntry.Source.API,
            )
        except RefundIdempotencyError as exc:
            return Response(_errors_body(order, exc), status=status.HTTP_409_CONFLICT)
        except RefundValidationError as exc:
            raise ValidationError(_errors_body(order, exc)) from exc
        refund_request = _with_lines(RefundRequest.objects.filter(pk=refund_request.pk)).get()
        balance = refund_balance_check(
            connection=order.connection, total=refund_request.total, exclude=refund_request
        )
        return Response(
            RefundRequestSerializer(
                refund_request, context={"balance_warning": balance.warning if created else ""}
            ).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _with_lines(requests: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
    lines = RefundRequestLine.objects.select_related("line").order_by("pk")
    return requests.select_related(
        "connection", "order", "requested_by", "approved_by"
    ).prefetch_related(Prefetch("lines", queryset=lines))


@extend_schema_view(
    list=extend_schema(
        summary="Refund requests made through Incidesk, newest first",
        parameters=[
            OpenApiParameter("order", IDENTIFIER_SCHEMA, description="Mirakl order id"),
            OpenApiParameter("marketplace", IDENTIFIER_SCHEMA, description="Marketplace code"),
            OpenApiParameter(
                "state",
                OpenApiTypes.STR,
                enum=RefundRequest.State.values,
                description="Only requests in this state",
            ),
        ],
    ),
    retrieve=extend_schema(summary="One refund request"),
)
class RefundRequestViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    """Refund requests with their state; ``approve`` / ``reject`` the ones over a limit."""

    serializer_class = RefundRequestSerializer
    pagination_class = StableCursorPagination
    filter_backends = ()
    required_permissions: ClassVar[dict[str, list[str]]] = {
        "GET": [READ],
        "POST": [READ, REFUND_PERMISSION],
    }

    def get_serializer_class(self) -> type:
        if self.action in ("approve", "reject"):
            return RefundDecisionSerializer
        return RefundRequestSerializer

    def get_queryset(self) -> QuerySet[RefundRequest]:
        requests = _with_lines(scope_queryset(RefundRequest.objects.all(), self.request.user))
        params = self.request.query_params
        if self.action == "list":
            order = query_identifier(params, "order", strict=True)
            marketplace = query_identifier(params, "marketplace", strict=True)
            state = params.get("state")
            if order:
                requests = requests.filter(order__mirakl_id=order)
            if marketplace:
                requests = requests.filter(connection__code=marketplace)
            if state in RefundRequest.State.values:
                requests = requests.filter(state=state)
            elif state:
                raise ParameterError(
                    "state",
                    _("Must be one of: %(states)s.")
                    % {"states": ", ".join(RefundRequest.State.values)},
                )
        return requests

    def _decide(self, request: Request, approve: bool) -> Response:
        refund_request = self.get_object()
        serializer = RefundDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            if approve:
                refund_request_approve(refund_request=refund_request, approver=request.user)
            else:
                refund_request_reject(
                    refund_request=refund_request,
                    approver=request.user,
                    reason=serializer.validated_data["reason"],
                )
        except RefundApprovalError as exc:
            code = status.HTTP_409_CONFLICT if exc.code == "state" else status.HTTP_403_FORBIDDEN
            return Response({"detail": exc.message, "code": exc.code}, status=code)
        refund_request = self.get_queryset().get(pk=refund_request.pk)
        return Response(RefundRequestSerializer(refund_request).data)

    @extend_schema(
        summary="Approve a refund awaiting approval (another user, within their own limit)",
        request=RefundDecisionSerializer,
        responses={
            200: RefundRequestSerializer,
            403: OpenApiResponse(description="Own request, no permission, or over the limit."),
            409: OpenApiResponse(description="Not awaiting approval."),
        },
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, approve=True)

    @extend_schema(
        summary="Reject a refund awaiting approval (nothing is sent)",
        request=RefundDecisionSerializer,
        responses={
            200: RefundRequestSerializer,
            403: OpenApiResponse(description="No permission."),
            409: OpenApiResponse(description="Not awaiting approval."),
        },
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, approve=False)
