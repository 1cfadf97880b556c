"""The audit log as CSV: filters, the streamed rows, and the audit entry of the export.

Used by the ``incidents:audit_export`` page and the admin's "Export CSV" action. Rows
are read with ``iterator()`` and written as they are read, so an export of millions of
entries holds one chunk in memory. Times are in the desk's time zone (``TIME_ZONE``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.csv_safety import SafeCsvWriter
from core.models import MarketplaceConnection
from core.params import validate_identifier
from incidents.audit import audit_log
from incidents.models import AuditEntry

__all__ = [
    "AUDIT_CSV_HEADER",
    "AuditExportForm",
    "audit_csv_response",
    "audit_csv_rows",
    "audit_entries_filter",
]

CHUNK = 2000

AUDIT_CSV_HEADER = [
    "at",
    "actor",
    "source",
    "action",
    "marketplace",
    "order",
    "incident",
    "from_state",
    "to_state",
    "detail",
    "data",
]


class AuditExportForm(forms.Form):
    """Filters of the export: dates (Madrid, inclusive), marketplace, action, order id."""

    date_from = forms.DateField(label=_("From"), required=False)
    date_to = forms.DateField(label=_("To"), required=False)
    marketplace = forms.ModelChoiceField(
        label=_("Marketplace"),
        queryset=MarketplaceConnection.objects.order_by("name"),
        to_field_name="code",
        required=False,
    )
    action = forms.ChoiceField(
        label=_("Action"),
        choices=[("", "---------"), *AuditEntry.Action.choices],
        required=False,
    )
    order = forms.CharField(
        label=_("Order id"), max_length=64, required=False, validators=[validate_identifier]
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data


def audit_entries_filter(*, filters: Mapping[str, Any]) -> QuerySet[AuditEntry]:
    """Audit entries matching the cleaned filters of :class:`AuditExportForm`, oldest first."""
    entries = AuditEntry.objects.select_related("connection", "order")
    zone = timezone.get_default_timezone()  # the dates typed are the desk's (settings)
    if filters.get("date_from"):
        start = datetime.combine(filters["date_from"], time.min, tzinfo=zone)
        entries = entries.filter(at__gte=start)
    if filters.get("date_to"):
        end = datetime.combine(filters["date_to"] + timedelta(days=1), time.min, tzinfo=zone)
        entries = entries.filter(at__lt=end)
    if filters.get("marketplace"):
        entries = entries.filter(connection=filters["marketplace"])
    if filters.get("action"):
        entries = entries.filter(action=filters["action"])
    if filters.get("order"):
        entries = entries.filter(order__mirakl_id=filters["order"].strip())
    return entries.order_by("at", "pk")


class _Echo:
    """A file-like object whose ``write`` returns the line: csv.writer feeds the stream."""

    def write(self, value: str) -> str:
        return value


def audit_csv_rows(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    """The header then one CSV line per entry, read in chunks (every cell through
    :func:`core.csv_safety.csv_cell`: no cell is a formula)."""
    writer = SafeCsvWriter(_Echo())
    yield writer.writerow(AUDIT_CSV_HEADER)
    for entry in entries.iterator(chunk_size=CHUNK):
        yield writer.writerow(
            [
                timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S"),
                entry.actor_name,
                entry.source,
                entry.action,
                entry.connection.name if entry.connection_id else "",
                entry.order.mirakl_id if entry.order_id else "",
                entry.incident_id or "",
                entry.from_state,
                entry.to_state,
                entry.detail,
                json.dumps(entry.data, cls=DjangoJSONEncoder, ensure_ascii=False)
                if entry.data
                else "",
            ]
        )


def audit_csv_response(
    *,
    entries: QuerySet[AuditEntry],
    actor: Any,
    filters: Mapping[str, Any],
    source: str = AuditEntry.Source.USER,
) -> StreamingHttpResponse:
    """Record the export in the audit log, then stream the entries as CSV."""
    described = {
        key: (value.code if isinstance(value, MarketplaceConnection) else value)
        for key, value in filters.items()
        if value not in (None, "")
    }
    exported = audit_log(
        action=AuditEntry.Action.EXPORTED,
        source=source,
        actor=actor,
        detail=", ".join(f"{k}={v}" for k, v in described.items()),
        data={"filters": described},
    )
    stamp = timezone.localtime(timezone.now()).strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        audit_csv_rows(entries.exclude(pk=exported.pk)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
