"""Forms of the SLA review."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from core.form_rendering import WIDGET_RENDERER
from core.forms import share_fields
from sla.kpis import Period, period_default

__all__ = ["KpiPeriodForm"]

#: The longest KPI period, to keep the daily series (and their queries) bounded.
MAX_PERIOD_DAYS = 366


class KpiPeriodForm(forms.Form):
    """The KPI period: first and last day (Madrid), the last 30 days by default."""

    default_renderer = WIDGET_RENDERER

    period_from = forms.DateField(
        label=_("KPIs from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    period_to = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        first, last = data.get("period_from"), data.get("period_to")
        if first and last and first > last:
            raise forms.ValidationError(_("The period must start before it ends."))
        if first and last and (last - first).days >= MAX_PERIOD_DAYS:
            raise forms.ValidationError(_("The period can be at most a year."))
        return data

    def period(self, *, now: datetime) -> Period:
        """The chosen period, or the default one when empty or invalid."""
        default = period_default(now=now)
        if not self.is_valid():
            return default
        first = self.cleaned_data.get("period_from")
        last = self.cleaned_data.get("period_to") or default.last
        if first is None:
            first = last - (default.last - default.first)
        if first > last or (last - first).days >= MAX_PERIOD_DAYS:
            return default
        return Period(first=first, last=last)


# Its forms alter none of its fields.
share_fields(KpiPeriodForm, own=frozenset())
