"""API views of threads: replies and new conversations (through the outbox), and
"no reply required" marks."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.lookups import MARKETPLACE_PARAMETER, get_by_mirakl_id
from core.api.permissions import READ, ApiView, StableCursorPagination
from core.models import Order
from core.params import IDENTIFIER_SCHEMA, query_identifier
from core.scoping import scope_queryset
from incidents.models import AuditEntry
from messaging.api.serializers import (
    RECIPIENTS,
    NewThreadSerializer,
    NoReplyMarkSerializer,
    NoReplySerializer,
    OutboundMessageSerializer,
    ReplySerializer,
    ThreadDetailSerializer,
    ThreadSerializer,
)
from messaging.models import Message, OutboundMessage, Thread
from messaging.selectors import thread_no_reply_current
from messaging.services import (
    UNRESOLVED_INCIDENT,
    outbound_reply_queue,
    outbound_thread_queue,
    thread_no_reply_mark,
)

__all__ = ["OrderThreadCreateView", "ThreadViewSet"]

THREAD_ID = OpenApiParameter("mirakl_id", OpenApiTypes.STR, OpenApiParameter.PATH)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.UUID,
    OpenApiParameter.HEADER,
    description="A UUID chosen by the caller: sending it again returns the same message "
    "instead of queueing a second one.",
)


@extend_schema_view(
    list=extend_schema(
        summary="Threads",
        parameters=[
            MARKETPLACE_PARAMETER,
            OpenApiParameter("order", IDENTIFIER_SCHEMA, description="Mirakl order id"),
        ],
    ),
    retrieve=extend_schema(
        summary="One thread by its Mirakl id, with its messages",
        parameters=[THREAD_ID, MARKETPLACE_PARAMETER],
    ),
)
class ThreadViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    """Conversations by Mirakl thread id; ``replies`` queues a reply in the outbox."""

    lookup_field = "mirakl_id"
    lookup_value_regex = r"[^/\x00]+"
    pagination_class = StableCursorPagination
    filter_backends = ()
    required_permissions: ClassVar[dict[str, list[str]]] = {
        "GET": [READ, "messaging.view_thread"],
        "POST": ["messaging.view_thread", "incidents.reply_incident"],
    }

    def get_serializer_class(self) -> type:
        if self.action == "retrieve":
            return ThreadDetailSerializer
        if self.action == "replies":
            return ReplySerializer
        if self.action == "no_reply":
            return NoReplySerializer
        return ThreadSerializer

    def get_queryset(self) -> QuerySet[Thread]:
        threads = scope_queryset(
            Thread.objects.select_related("connection", "order"), self.request.user
        )
        if self.action == "retrieve":
            threads = threads.prefetch_related(
                Prefetch("messages", queryset=Message.objects.order_by("date_created", "pk"))
            )
        params = self.request.query_params
        if self.action == "list":
            marketplace = query_identifier(params, "marketplace", strict=True)
            order = query_identifier(params, "order", strict=True)
            if marketplace:
                threads = threads.filter(connection__code=marketplace)
            if order:
                threads = threads.filter(order__mirakl_id=order)
        return threads

    def get_object(self) -> Thread:
        thread = get_by_mirakl_id(
            self.get_queryset(),
            mirakl_id=self.kwargs["mirakl_id"],
            params=self.request.query_params,
        )
        self.check_object_permissions(self.request, thread)
        return thread

    @extend_schema(
        summary="Reply to a thread (queued in the outbox, delivered to Mirakl by a worker)",
        parameters=[THREAD_ID, MARKETPLACE_PARAMETER, IDEMPOTENCY_KEY],
        request=ReplySerializer,
        responses={201: OutboundMessageSerializer, 200: OutboundMessageSerializer},
    )
    @action(detail=True, methods=["post"], url_path="replies")
    def replies(self, request: Request, mirakl_id: str) -> Response:
        idempotency_key = _idempotency_key(request)
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        thread = self.get_object()
        try:
            outbound, created = outbound_reply_queue(
                thread=thread,
                body=serializer.validated_data["body"],
                choice=RECIPIENTS[serializer.validated_data["recipients"]],
                user=request.user,
                idempotency_key=idempotency_key,
                source="api",
            )
        except DjangoValidationError as exc:
            raise ValidationError({"recipients": exc.messages}) from exc
        if outbound.thread_id != thread.pk:
            raise ValidationError(
                {"Idempotency-Key": _("This key was already used for another message.")}
            )
        return Response(
            OutboundMessageSerializer(outbound).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary='Mark a thread "no reply required" (who and why are recorded)',
        parameters=[THREAD_ID, MARKETPLACE_PARAMETER],
        request=NoReplySerializer,
        responses={
            201: NoReplyMarkSerializer,
            200: OpenApiResponse(
                NoReplyMarkSerializer,
                description="Already marked, and no message arrived since: that mark.",
            ),
            400: OpenApiResponse(description="Refused, with the reason."),
        },
    )
    @action(detail=True, methods=["post"], url_path="no-reply")
    def no_reply(self, request: Request, mirakl_id: str) -> Response:
        """As the incident page's "no reply required": only when the customer or the
        operator wrote last. The next SLA sweep stops the thread's clock."""

        serializer = NoReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        thread = self.get_object()
        current = thread_no_reply_current(thread=thread)
        if current is not None:
            return Response(NoReplyMarkSerializer(current).data, status=status.HTTP_200_OK)
        try:
            mark = thread_no_reply_mark(
                thread=thread,
                user=request.user,
                reason=serializer.validated_data["reason"],
                source=AuditEntry.Source.API,
                confirmed=serializer.validated_data["confirm"],
            )
        except DjangoValidationError as exc:
            code = exc.code if exc.code == UNRESOLVED_INCIDENT else "refused"
            return Response(
                {"detail": " ".join(exc.messages), "code": code},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(NoReplyMarkSerializer(mark).data, status=status.HTTP_201_CREATED)


class OrderThreadCreateView(ApiView, generics.GenericAPIView):
    """``POST /api/v1/orders/<Mirakl order id>/threads/``: start a conversation on the
    order (OR43), queued in the outbox like the incident page's "start a conversation"
    and sent by a worker."""

    serializer_class = NewThreadSerializer
    filter_backends = ()
    pagination_class = None
    required_permissions: ClassVar[dict[str, list[str]]] = {
        "POST": ["core.view_order", "incidents.reply_incident"],
    }

    def get_queryset(self) -> QuerySet[Order]:
        return scope_queryset(Order.objects.select_related("connection"), self.request.user)

    @extend_schema(
        summary="Start a conversation on an order (queued in the outbox, sent by a worker)",
        parameters=[
            OpenApiParameter(
                "order_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Mirakl order id"
            ),
            MARKETPLACE_PARAMETER,
            IDEMPOTENCY_KEY,
        ],
        request=NewThreadSerializer,
        responses={
            201: OutboundMessageSerializer,
            200: OpenApiResponse(
                OutboundMessageSerializer, description="This Idempotency-Key was already used."
            ),
            400: OpenApiResponse(description="Per-field errors."),
        },
    )
    def post(self, request: Request, order_id: str) -> Response:
        idempotency_key = _idempotency_key(request)
        order = get_by_mirakl_id(
            self.get_queryset(),
            mirakl_id=order_id,
            params=request.query_params,
        )
        self.check_object_permissions(request, order)
        serializer = NewThreadSerializer(data=request.data, context={"order": order})
        serializer.is_valid(raise_exception=True)
        topic_type, topic_value = serializer.topic()
        try:
            outbound, created = outbound_thread_queue(
                order=order,
                topic_type=topic_type,
                topic_value=topic_value,
                body=serializer.validated_data["body"],
                choice=RECIPIENTS[serializer.validated_data["recipients"]],
                user=request.user,
                idempotency_key=idempotency_key,
                source=AuditEntry.Source.API,
            )
        except DjangoValidationError as exc:
            field = "reason_code" if topic_type == "REASON_CODE" else "subject"
            raise ValidationError({field: exc.messages}) from exc
        if outbound.kind != OutboundMessage.Kind.NEW_THREAD or outbound.order_id != order.pk:
            raise ValidationError(
                {"Idempotency-Key": _("This key was already used for another message.")}
            )
        return Response(
            OutboundMessageSerializer(outbound).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _idempotency_key(request: Any) -> uuid.UUID:
    raw = request.headers.get("Idempotency-Key", "").strip()
    if not raw:
        return uuid.uuid4()
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationError({"Idempotency-Key": _("Must be a UUID.")}) from exc
