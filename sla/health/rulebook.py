"""The shipped rulebooks per marketplace preset, and their versions.

**PcComponentes** (DOMAIN.md, "The quality programme behind the suspensions", from its
public seller help centre): seven criteria averaged over 30 days (the rating over three
months); crossing the alert sends a warning, crossing the limit suspends automatically.
The table's bare figures ("20 h", "8 %") are read as "from that figure on" (≥). Its
English help page says what counts for incidents is "the number of active incidents,
averaged over the last month", without a figure: that threshold ships *unknown*, as
does a share of replies within the deadline (the rule is per message: 24 business
hours). The operator closes an incident marked resolved "about three business days"
after the last interaction.

**MediaMarkt** (its customer care guide): every message answered within 48 hours, "one
of the most important KPIs", whose breach suspends the shop: a limit of 48 h on the
response time (no alert published, so *unknown*). The incident rate suspends
automatically "above the required rate", a rate the guide does not give: *unknown*,
for the admin to fill. Everything else ships *unknown* too.

**default**: every threshold *unknown*.

Every change made in the admin is a :class:`~sla.models.health.RulebookVersion` (who,
when, each field before and after, and the whole rulebook after).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from sla.health.criteria import CRITERIA, CriterionKey
from sla.health.rules import Comparison, Threshold, ThresholdState
from sla.models.health import Rulebook, RulebookVersion

__all__ = [
    "PRESET_RULEBOOKS",
    "RulebookSpec",
    "RULEBOOK_OF_PRESET",
    "rulebook_for",
    "rulebook_rules",
    "rulebook_thresholds",
    "rulebook_version_record",
    "rulebooks_install",
]

SET, NONE, UNKNOWN = ThresholdState.SET, ThresholdState.NONE, ThresholdState.UNKNOWN
GTE, GT, LT = Comparison.GTE, Comparison.GT, Comparison.LT
K = CriterionKey


def _t(state: str, value: str | None = None, comparison: str = GTE) -> Threshold:
    return Threshold(state, None if value is None else Decimal(value), comparison)


@dataclass(frozen=True, slots=True)
class RulebookSpec:
    preset: str
    name: str
    review_business_days: int
    source: str
    #: criterion → (alert, limit); criteria left out ship unknown.
    thresholds: Mapping[str, tuple[Threshold, Threshold]]


PRESET_RULEBOOKS: tuple[RulebookSpec, ...] = (
    RulebookSpec(
        "pccomponentes",
        "PcComponentes",
        3,
        "PcComponentes, centro de ayuda para vendedores: control de calidad automático de "
        "Mirakl, siete criterios sobre los últimos 30 días (valoración: 3 meses).",
        {
            K.INCIDENT_RATE: (_t(SET, "8"), _t(SET, "9")),
            K.RESPONSE_TIME: (_t(SET, "20"), _t(SET, "24", GT)),
            K.ACCEPTANCE_TIME: (_t(SET, "20"), _t(SET, "24", GT)),
            K.ACCEPTANCE_RATE: (_t(SET, "97", LT), _t(SET, "96", LT)),
            K.LATE_SHIPMENT_RATE: (_t(SET, "8"), _t(SET, "10")),
            K.VALID_TRACKING_RATE: (_t(SET, "91", LT), _t(SET, "90", LT)),
            K.RATING: (_t(NONE, comparison=LT), _t(SET, "3.5", LT)),
        },
    ),
    RulebookSpec(
        "mediamarkt",
        "MediaMarkt",
        3,
        "MediaMarkt, guía de atención al cliente: responder a todos los mensajes en 48 h "
        "(su incumplimiento supone la suspensión); la tasa de incidencias por encima de la "
        "requerida suspende la tienda automáticamente (la guía no da la cifra).",
        {K.RESPONSE_TIME: (_t(UNKNOWN), _t(SET, "48", GT))},
    ),
    RulebookSpec("default", "Por defecto", 3, "", {}),
)


def _default_comparison(key: str) -> str:
    return GTE if CRITERIA[key].higher_is_worse else LT


def rulebook_thresholds(rulebook: Any) -> dict[str, tuple[Threshold, Threshold]]:
    """Every criterion's (alert, limit) in a rulebook; a criterion without a row is unknown
    (``rulebook`` may be ``None``: everything unknown)."""
    rows = {} if rulebook is None else {row.criterion: row for row in rulebook.thresholds.all()}
    result = {}
    for key in CRITERIA:
        row = rows.get(key)
        if row is None:
            unknown = Threshold(UNKNOWN, None, _default_comparison(key))
            result[key] = (unknown, unknown)
        else:
            result[key] = (
                Threshold(row.alert_state, row.alert_value, row.alert_comparison),
                Threshold(row.limit_state, row.limit_value, row.limit_comparison),
            )
    return result


#: Presets that read the same marketplace's clock another way share its quality rules.
RULEBOOK_OF_PRESET = {"pccomponentes_office_hours": "pccomponentes"}


def rulebook_for(preset: str) -> Any:
    """The rulebook of a connection's preset (the marketplace's, for a second reading of
    its clock: :data:`RULEBOOK_OF_PRESET`), else ``default``'s, with its thresholds
    (``None`` when neither exists)."""
    wanted = [preset, RULEBOOK_OF_PRESET.get(preset, preset), "default"]
    books = {
        b.preset: b
        for b in Rulebook.objects.filter(preset__in=wanted).prefetch_related("thresholds")
    }
    return next((books[code] for code in wanted if code in books), None)


def _threshold_data(threshold: Threshold) -> dict[str, Any]:
    return {
        "state": threshold.state,
        "value": None if threshold.value is None else str(threshold.value),
        "comparison": threshold.comparison,
    }


def rulebook_rules(rulebook: Any) -> dict[str, Any]:
    """A rulebook as plain data (what a version keeps, and what is compared)."""
    return {
        "name": rulebook.name,
        "review_business_days": rulebook.review_business_days,
        "thresholds": {
            key: {"alert": _threshold_data(alert), "limit": _threshold_data(limit)}
            for key, (alert, limit) in rulebook_thresholds(rulebook).items()
        },
    }


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for field in ("name", "review_business_days"):
        if before.get(field) != after.get(field):
            was, now = before.get(field), after[field]
            changes.append({"criterion": "", "field": field, "before": was, "after": now})
    old = before.get("thresholds", {})
    for key, new in after["thresholds"].items():
        for which in ("alert", "limit"):
            was = old.get(key, {}).get(which)
            now = new[which]
            if was != now:
                changes.append({"criterion": key, "field": which, "before": was, "after": now})
    return changes


@transaction.atomic
def rulebook_version_record(
    *,
    rulebook: Any,
    actor: Any,
    before: Mapping[str, Any] | None,
    note: str = "",
    now: datetime | None = None,
    version_model: Any = None,
) -> Any | None:
    """Record what changed in ``rulebook`` since ``before`` (its :func:`rulebook_rules`
    before the edit; ``None`` for a new rulebook) as its next version. Nothing is
    recorded when nothing changed. Returns the version, or ``None``."""
    if version_model is None:
        version_model = RulebookVersion
    now = now or timezone.now()
    after = rulebook_rules(rulebook)
    changes = _changes(before or {}, after)
    if before is not None and not changes:
        return None
    last = (
        version_model.objects.select_for_update()
        .filter(rulebook=rulebook)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    version = version_model.objects.create(
        rulebook=rulebook,
        number=(last or 0) + 1,
        changed_by=actor if getattr(actor, "is_authenticated", False) else None,
        changed_at=now,
        changes=changes,
        rules=after,
        note=note[:200],
    )
    type(rulebook).objects.filter(pk=rulebook.pk).update(updated_at=now)
    return version


def rulebooks_install(*, apps: Any = None) -> list[Any]:
    """Create the shipped rulebooks that are missing (existing ones are kept), each with a
    threshold row per criterion and a first version noted "preset".

    :param apps: the migration's app registry (historical models); the live models
        when omitted.
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    book_model = apps.get_model("sla", "Rulebook")
    row_model = apps.get_model("sla", "RulebookThreshold")
    version_model = apps.get_model("sla", "RulebookVersion")
    books = []
    for spec in PRESET_RULEBOOKS:
        book, created = book_model.objects.get_or_create(
            preset=spec.preset,
            defaults={
                "name": spec.name,
                "review_business_days": spec.review_business_days,
                "source": spec.source,
            },
        )
        books.append(book)
        if not created:
            continue
        rows = []
        for key in CRITERIA:
            unknown = Threshold(UNKNOWN, None, _default_comparison(key))
            alert, limit = spec.thresholds.get(key, (unknown, unknown))
            rows.append(
                row_model(
                    rulebook=book,
                    criterion=key,
                    alert_state=alert.state,
                    alert_value=alert.value,
                    alert_comparison=alert.comparison
                    if alert.state == SET
                    else _default_comparison(key),
                    limit_state=limit.state,
                    limit_value=limit.value,
                    limit_comparison=limit.comparison
                    if limit.state == SET
                    else _default_comparison(key),
                )
            )
        row_model.objects.bulk_create(rows)
        rulebook_version_record(
            rulebook=book, actor=None, before=None, note="preset", version_model=version_model
        )
    return books
