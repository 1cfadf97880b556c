"""The queue's bulk action bar (one form for the page; the API has its serializer)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from core.models import MarketplaceReason
from core.scoping import scope_queryset
from desk.bulk import BULK_MAX_ROWS, BulkAction, RowKind
from incidents.resolution import RESOLUTION_REASON_TYPE
from incidents.selectors import assignable_users

__all__ = ["BulkForm", "parse_rows"]


def parse_rows(values: list[str]) -> tuple[list[int], list[int]]:
    """``incident:12`` / ``thread:5`` → (incident ids, thread ids); others are dropped."""
    incidents: list[int] = []
    threads: list[int] = []
    for value in values:
        kind, _sep, pk = str(value).partition(":")
        if not pk.isdigit() or len(pk) > 12:
            continue
        if kind == RowKind.INCIDENT:
            incidents.append(int(pk))
        elif kind == RowKind.THREAD:
            threads.append(int(pk))
    return incidents, threads


def resolution_reasons(user: Any) -> list[tuple[str, str]]:
    """The INCIDENT_CLOSE reasons of the marketplaces ``user`` sees, one per code."""
    reasons = scope_queryset(
        MarketplaceReason.objects.filter(type=RESOLUTION_REASON_TYPE).exclude(is_shop_right=False),
        user,
    ).order_by("label", "code")
    seen: dict[str, str] = {}
    for code, label in reasons.values_list("code", "label"):
        seen.setdefault(code, label or code)
    return sorted(seen.items(), key=lambda item: item[1])


class BulkForm(forms.Form):
    """What to do to the selected rows of the queue."""

    action = forms.ChoiceField(label=_("Action"), choices=BulkAction.choices)
    rows = forms.MultipleChoiceField(label=_("Rows"), required=True)
    assignee = forms.ModelChoiceField(
        label=_("Assign to"), queryset=assignable_users(), required=False
    )
    reason = forms.CharField(label=_("Why"), max_length=500, required=False)
    reason_code = forms.ChoiceField(label=_("Resolution reason"), required=False)
    confirm = forms.BooleanField(
        label=_("I confirm these need no answer, though an incident is not resolved"),
        required=False,
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assignee = cast(forms.ModelChoiceField, self.fields["assignee"])
        assignee.queryset = assignable_users()
        reason_code = cast(forms.ChoiceField, self.fields["reason_code"])
        # Read when the form is drawn or checked: the inbox keeps the drawn bar in its
        # cache, so a page served from it asks nothing.
        reason_code.choices = lambda: [("", "—"), *resolution_reasons(user)]
        # Any "kind:id" is accepted here; parse_rows keeps the well-formed ones.
        values = self.data.getlist("rows") if hasattr(self.data, "getlist") else []
        rows = cast(forms.MultipleChoiceField, self.fields["rows"])
        rows.choices = [(v, v) for v in values]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        incidents, threads = parse_rows(data.get("rows") or [])
        if not incidents and not threads and "rows" not in self.errors:
            self.add_error("rows", _("Select at least one row."))
        if len(incidents) + len(threads) > BULK_MAX_ROWS:
            self.add_error("rows", _("At most %(max)d rows at a time.") % {"max": BULK_MAX_ROWS})
        action = data.get("action")
        if action == BulkAction.ASSIGN and data.get("assignee") is None:
            self.add_error("assignee", _("Choose who to assign them to."))
        if action == BulkAction.NO_REPLY and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Say why no reply is required."))
        if action == BulkAction.RESOLVE and not data.get("reason_code"):
            self.add_error("reason_code", _("Choose a resolution reason."))
        data["incident_ids"], data["thread_ids"] = incidents, threads
        return data
