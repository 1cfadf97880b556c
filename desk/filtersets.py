"""The filters of the queue and of the API's incidents: one FilterSet for a page and the
API (NetBox style)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import router
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.expressions import in_ids
from core.filtersets import SharedFormFilterSet
from core.freshness import inbox_filters_version
from core.kept import Kept
from core.models import MarketplaceConnection, MarketplaceReason
from core.params import search_text
from core.scoping import scope_queryset, visible_connection_ids
from incidents.models import Incident, IncidentAssignment
from messaging.search import order_search, order_search_ids
from sla.models import QueueEntry

__all__ = [
    "ASSIGNEE_ME",
    "ASSIGNEE_NONE",
    "SAVED_VIEWS",
    "STATUS_ALL",
    "STATUS_CLOSED",
    "STATUS_OPEN",
    "QUEUE_VIEWS",
    "FormChoices",
    "IncidentFilterSet",
    "QueueFilterSet",
    "filters_version",
    "form_choices",
]

STATUS_OPEN = "open"
STATUS_CLOSED = "closed"
STATUS_ALL = "all"
ASSIGNEE_ME = "me"
ASSIGNEE_NONE = "none"

#: Saved views of the inbox: (key, label, query). The inbox links to each; the API
#: applies the same query for ``?view=<key>``.
SAVED_VIEWS: tuple[tuple[str, Any, dict[str, Any]], ...] = (
    ("mine", _("My queue"), {"assignee": ASSIGNEE_ME}),
    ("waiting", _("Waiting for us"), {"waiting": "true"}),
    ("breaching", _("Breaching"), {"sla": ["nearing", "breached"]}),
    ("contested", _("Contested"), {"state": ["contested"]}),
    ("open", _("Open"), {"status": STATUS_OPEN}),
    ("closed", _("Closed"), {"status": STATUS_CLOSED}),
)

_SLA_STATES = (
    ("on_time", _("On time")),
    ("nearing", _("Nearing the deadline")),
    ("breached", _("Deadline missed")),
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _reason_choices() -> list[tuple[str, str]]:
    """Incident reasons from the marketplaces' lists (RE01), one per code."""
    seen: dict[str, str] = {}
    for code, label in (
        MarketplaceReason.objects.filter(type="INCIDENT_OPEN")
        .order_by("code")
        .values_list("code", "label")
    ):
        seen.setdefault(code, label or code)
    return sorted(seen.items(), key=lambda item: item[1])


def _assignee_choices() -> list[tuple[str, StrOrPromise]]:
    users = get_user_model().objects.filter(is_active=True).order_by("first_name", "username")
    return [
        (ASSIGNEE_ME, _("Me")),
        (ASSIGNEE_NONE, _("Nobody")),
        *((str(u.pk), u.get_full_name() or u.get_username()) for u in users),
    ]


class _ConnectionField(django_filters.fields.ModelChoiceField):
    """The marketplace filter's field: a marketplace asked for is checked against
    ``known`` (id → name, :func:`form_choices`) and ``scope`` (the user's marketplaces,
    None: all) when the form was given them, else read from the queryset as Django does.
    What it cleans to is the marketplace with its id and name (the rest read if used)."""

    known: dict[int, str] | None = None
    scope: frozenset[int] | None = None

    def to_python(self, value: Any) -> Any:
        if self.known is None or value in self.empty_values:
            return super().to_python(value)
        self.validate_no_null_characters(value)
        try:
            pk = int(value.pk if isinstance(value, MarketplaceConnection) else value)
        except (TypeError, ValueError):
            pk = None
        if pk is None or pk not in self.known or (self.scope is not None and pk not in self.scope):
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return MarketplaceConnection.from_db(
            router.db_for_read(MarketplaceConnection), ["id", "name"], [pk, self.known[pk]]
        )


class _ConnectionFilter(django_filters.ModelChoiceFilter):
    field_class = _ConnectionField


@dataclass(frozen=True, slots=True)
class FormChoices:
    """The filter form's choices that come from the database, as of one version."""

    #: Every marketplace: id → name.
    connections: dict[int, str]
    assignees: list[tuple[str, StrOrPromise]]
    reasons: list[tuple[str, str]]


#: By (version of the form's choices, minute): a version is bumped when a marketplace, a
#: reason or a user changes (``core.freshness``), and read again within a minute anyway
#: (a bump sent before its transaction committed).
_FORM_CHOICES: Kept[tuple[int, int], FormChoices] = Kept(8)


def form_choices(version: int) -> FormChoices:
    """The form's marketplaces, assignees and reasons of ``version``: read once a minute
    per process, not on every request that filters by one of them."""
    key = (version, int(time.time() // 60))
    found = _FORM_CHOICES.get(key)
    if found is None:
        found = _FORM_CHOICES.keep(
            key,
            FormChoices(
                connections=dict(MarketplaceConnection.objects.values_list("pk", "name")),
                assignees=_assignee_choices(),
                reasons=_reason_choices(),
            ),
        )
    return found


def filters_version(request: Any) -> int:
    """The version of the filter form's choices (:func:`core.freshness.inbox_filters_version`),
    read once per request (the form's checks, its drawn HTML and the bulk bar's all key on
    it; 0 when the cache cannot be read)."""
    version = getattr(request, "_inbox_filters_version", None)
    if version is None:
        version = inbox_filters_version()
        if request is not None:
            request._inbox_filters_version = version
    return version


#: A search matching more orders than this filters the queue by a subquery instead.
SEARCH_IDS_AT_MOST = 1000


class IncidentFilterSet(SharedFormFilterSet):
    """Filters of the inbox. Without ``status`` only open incidents are listed."""

    q = django_filters.CharFilter(
        method="filter_q",
        label=_("Search"),
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Order, customer or message text")}
        ),
    )
    connection = _ConnectionFilter(
        queryset=MarketplaceConnection.objects.order_by("name"),
        label=_("Marketplace"),
        empty_label=_("All marketplaces"),
    )
    status = django_filters.ChoiceFilter(
        choices=(
            (STATUS_OPEN, _("Open")),
            (STATUS_CLOSED, _("Closed")),
            (STATUS_ALL, _("Open and closed")),
        ),
        method="filter_status",
        label=_("Open or closed"),
        empty_label=None,
    )
    state = django_filters.MultipleChoiceFilter(
        choices=Incident.State.choices,
        label=_("State"),
        widget=forms.CheckboxSelectMultiple,
        distinct=False,  # one column of the incident: no duplicates to remove
    )
    reason = django_filters.ChoiceFilter(
        field_name="reason_code",
        choices=_reason_choices,
        label=_("Reason"),
        empty_label=_("All reasons"),
    )
    opened = django_filters.DateFromToRangeFilter(
        field_name="opened_at",
        label=_("Opened between"),
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}),
    )
    sla = django_filters.MultipleChoiceFilter(
        choices=_SLA_STATES,
        method="filter_sla",
        label=_("SLA"),
        widget=forms.CheckboxSelectMultiple,
    )
    assignee = django_filters.ChoiceFilter(
        choices=_assignee_choices,
        method="filter_assignee",
        label=_("Assigned to"),
        empty_label=_("Anyone"),
    )
    waiting = django_filters.BooleanFilter(
        method="filter_waiting",
        label=_("Waiting for us"),
        widget=forms.CheckboxInput,
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if data is not None:
            data = data.copy()
            if not data.get("status"):
                data["status"] = STATUS_OPEN
            if "q" in data:
                # A control character (a NUL) would make the search field invalid, and an
                # invalid filter is dropped: the search would list everything.
                data["q"] = search_text(data.get("q"))
            if "waiting" in data and data.get("waiting") in ("on", "1", "true", "True"):
                data["waiting"] = "true"
        super().__init__(data, *args, **kwargs)
        # Only the marketplaces the user sees (core.scoping) are offered.
        if self.user is not None:
            field = self.filters["connection"]
            field.queryset = scope_queryset(field.queryset, self.user, "pk")

    #: The form's fields that a request alters (its marketplaces, the choices it checks a
    #: value against): each form has its own.
    own_fields: ClassVar[frozenset[str]] = frozenset({"connection", "assignee", "reason"})

    @property
    def form(self) -> forms.Form:
        if not hasattr(self, "_form"):
            form = super().form
            if any(self.data.get(name) for name in self.own_fields):
                self._check_against_kept_choices(form)
        return self._form

    def _check_against_kept_choices(self, form: forms.Form) -> None:
        """Have the marketplace, assignee and reason asked for checked against the
        choices kept for the form's version (:func:`form_choices`) rather than read
        again: a query each (the users' list for ``assignee=me``) on every request."""
        version = filters_version(self.request)
        if not version:  # the cache cannot be read: the fields ask the database
            return
        kept = form_choices(version)
        connection = form.fields["connection"]
        if isinstance(connection, _ConnectionField):
            connection.known = kept.connections
            connection.scope = None if self.user is None else visible_connection_ids(self.user)
        for name, choices in (("assignee", kept.assignees), ("reason", kept.reasons)):
            field = form.fields.get(name)
            if isinstance(field, forms.ChoiceField):
                field.choices = choices

    @property
    def user(self) -> Any:
        return getattr(self.request, "user", None)

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Order number, customer name (every word) or message text
        (:mod:`messaging.search`). The matching orders' ids are read first when they
        are few (an order number, a name): as a subquery, Postgres walked the queue's
        due-time index and probed the orders for every open row."""
        value = value.strip()
        if not value:
            return queryset
        ids = order_search_ids(value, limit=SEARCH_IDS_AT_MOST + 1)
        if not ids:
            return queryset.none()
        if len(ids) <= SEARCH_IDS_AT_MOST:
            return queryset.filter(in_ids(queryset.model, "order_id", ids))
        return queryset.filter(order_id__in=order_search(value))

    def filter_status(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet:
        if value == STATUS_OPEN:
            return queryset.filter(closed_at__isnull=True)
        if value == STATUS_CLOSED:
            return queryset.filter(closed_at__isnull=False)
        return queryset

    def filter_sla(self, queryset: QuerySet[Incident], name: str, value: list[str]) -> QuerySet:
        if not value:
            return queryset
        from sla.models import SlaItem

        return queryset.filter(
            pk__in=SlaItem.objects.filter(
                kind=SlaItem.Kind.INCIDENT, stopped_at__isnull=True, state__in=value
            ).values("incident_id")
        )

    def filter_assignee(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet:
        if value == ASSIGNEE_ME:
            user = self.user
            if user is None or not user.is_authenticated:
                return queryset.none()
            return queryset.filter(assignment__assignee=user)
        if value == ASSIGNEE_NONE:
            return queryset.filter(assignment__isnull=True)
        return queryset.filter(assignment__assignee_id=value)

    def filter_waiting(
        self, queryset: QuerySet[Incident], name: str, value: bool | None
    ) -> QuerySet:
        """NEW incidents, those with an order thread the shop owes an answer to, and
        resolved ones back in the queue (``Incident.watch``).

        A thread counts while Mirakl says it needs a reply, unless an agent marked it
        "no reply required" here and no message arrived since.
        """
        if not value:
            return queryset
        from messaging.models import Thread, ThreadNoReply

        marked = ThreadNoReply.objects.filter(
            thread=OuterRef("pk"), last_message_at__gte=OuterRef("last_message_at")
        )
        waiting_orders = (
            Thread.objects.filter(order__isnull=False, shop_reply_needed_since__isnull=False)
            .exclude(Exists(marked))
            .values("order_id")
        )
        # Resolved ones back in the queue (the watch after resolving) wait for us too.
        return queryset.filter(
            Q(state=Incident.State.NEW) | Q(order_id__in=waiting_orders) | ~Q(watch="")
        )


# --------------------------------------------------------------------------- the queue

KIND_CHOICES = QueueEntry.Kind.choices
OWED_CHOICES = (
    (QueueEntry.Owed.CUSTOMER, _("Customer")),
    (QueueEntry.Owed.OPERATOR, _("Operator")),
    (QueueEntry.Owed.BOTH, _("Both")),
)

#: Saved views of the queue: (key, label, query). The page links to each; the API's
#: queue applies the same query for ``?view=<key>``.
QUEUE_VIEWS: tuple[tuple[str, Any, dict[str, Any]], ...] = (
    ("mine", _("My queue"), {"assignee": ASSIGNEE_ME}),
    ("waiting", _("Waiting for us"), {"waiting": "true"}),
    ("breaching", _("Breaching"), {"sla": ["nearing", "breached"]}),
    ("contested", _("Contested"), {"state": ["contested"]}),
    ("open", _("Open"), {"status": STATUS_OPEN}),
    ("closed", _("Closed"), {"status": STATUS_CLOSED}),
)


class QueueFilterSet(IncidentFilterSet):
    """Filters of the queue (:class:`sla.models.QueueEntry`): the inbox's, plus what is
    owed (kind, to whom), over incidents and conversations without incident.

    Without ``status`` only open rows are listed: incidents not closed, and anything
    that waits for the shop. Every filter is a condition on the queue's table (or a
    subquery of ids): nothing is joined at read time.
    """

    kind = django_filters.ChoiceFilter(
        choices=KIND_CHOICES, label=_("Kind"), empty_label=_("Incidents and conversations")
    )
    owed = django_filters.ChoiceFilter(
        choices=OWED_CHOICES,
        method="filter_owed",
        label=_("Reply owed to"),
        empty_label=_("Anyone"),
    )
    state = django_filters.MultipleChoiceFilter(
        field_name="incident_state",
        choices=Incident.State.choices,
        label=_("State"),
        widget=forms.CheckboxSelectMultiple,
        distinct=False,
    )

    class Meta:
        model = QueueEntry
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == STATUS_OPEN:
            return queryset.filter(is_open=True)
        if value == STATUS_CLOSED:
            return queryset.filter(is_open=False)
        return queryset

    def filter_owed(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Customer (or both), operator (or both), or both."""
        if value == QueueEntry.Owed.BOTH:
            return queryset.filter(owed_to=value)
        return queryset.filter(owed_to__in=(value, QueueEntry.Owed.BOTH))

    def filter_sla(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        """By the row's earliest wait: missed, nearing (in its warning window) or on
        time, at the time of the request."""
        if not value:
            return queryset
        now = timezone.now()
        conditions = {
            "breached": Q(due_at__lt=now),
            "nearing": Q(warn_at__lte=now, due_at__gte=now),
            "on_time": Q(warn_at__gt=now),
        }
        condition = Q()
        for state in value:
            condition |= conditions[state]
        return queryset.filter(condition)

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        assignments = IncidentAssignment.objects.all()
        if value == ASSIGNEE_ME:
            user = self.user
            if user is None or not user.is_authenticated:
                return queryset.none()
            assignments = assignments.filter(assignee=user)
        elif value == ASSIGNEE_NONE:
            return queryset.exclude(
                incident_id__in=IncidentAssignment.objects.values("incident_id")
            )
        else:
            assignments = assignments.filter(assignee_id=value)
        return queryset.filter(incident_id__in=assignments.values("incident_id"))

    def filter_waiting(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        """Every row with an open wait (a first reply or a follow-up, to anyone), and the
        resolved incidents back in the queue (the watch after resolving)."""
        if not value:
            return queryset
        watched = Incident.objects.exclude(watch="").values("pk")
        return queryset.filter(Q(due_at__isnull=False) | Q(incident_id__in=watched))
