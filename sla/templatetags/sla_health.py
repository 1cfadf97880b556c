"""Template helpers of the shop health pages: figures with units, ages, sparklines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from core.sync.health import data_age_text
from sla.health.banner import shop_state_banners as banners
from sla.health.criteria import Criterion
from sla.health.figures import format_figure

__all__ = ["age", "figure", "shop_state_banners", "sparkline"]

register = template.Library()

WIDTH, HEIGHT, PAD = 120, 30, 3


@register.filter
def figure(value: Any, criterion: Criterion) -> str:
    """A criterion's figure with its unit (``7,60 %``, ``19,0 h``), or ``—``."""
    return format_figure(value, criterion)


@register.filter
def age(moment: datetime | None) -> str:
    """ "data from 3 hours ago" (in the active language) for an instant, or "no data yet"."""
    if moment is None:
        return data_age_text(None)
    return data_age_text(timezone.now() - moment)


def _points(
    values: Sequence[Decimal | None], low: float, high: float
) -> list[tuple[float, float] | None]:
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)
    out: list[tuple[float, float] | None] = []
    for i, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        y = HEIGHT - PAD - (float(value) - low) / span * (HEIGHT - 2 * PAD)
        out.append((round(PAD + i * step, 1), round(y, 1)))
    return out


@register.simple_tag
def sparkline(
    ours: Sequence[Decimal | None],
    mirakl: Sequence[Decimal | None] = (),
    limit: Decimal | None = None,
) -> SafeString:
    """An inline SVG of the last 30 days: ours as a line, Mirakl's daily answers as dots,
    the limit as a dashed line. Only numbers go into it."""
    values = [float(v) for v in [*ours, *mirakl] if v is not None]
    if not values:
        return format_html('<span class="muted">{}</span>', _("no history yet"))
    bounds = [*values, float(limit)] if limit is not None else values
    low, high = min(bounds), max(bounds)
    parts = [
        f'<svg class="sparkline" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
        f"<title>{escape(_('Last 30 days'))}</title>",
    ]
    if limit is not None:
        ((_x, y),) = [p for p in _points([limit], low, high) if p]
        parts.append(f'<line class="spark-limit" x1="{PAD}" x2="{WIDTH - PAD}" y1="{y}" y2="{y}"/>')
    segment: list[str] = []
    for point in [*_points(list(ours), low, high), None]:
        if point is None:
            if len(segment) > 1:
                parts.append(f'<polyline class="spark-ours" points="{" ".join(segment)}"/>')
            elif segment:
                cx, cy = segment[0].split(",")
                parts.append(f'<circle class="spark-ours" cx="{cx}" cy="{cy}" r="1.5"/>')
            segment = []
        else:
            segment.append(f"{point[0]},{point[1]}")
    for point in _points(list(mirakl), low, high):
        if point is not None:
            parts.append(f'<circle class="spark-mirakl" cx="{point[0]}" cy="{point[1]}" r="2"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - numbers and an escaped title only


#: The banners' template; with no banner it draws its final newline alone.
BANNERS_TEMPLATE = "sla/health/partials/_banners.html"


@register.simple_tag(takes_context=True)
def shop_state_banners(context: template.Context) -> str:
    """The banners of the marketplaces whose shop is not open: on a page of one
    marketplace (``page_marketplace``, or the ``incident`` shown) only its own, on pages
    of every marketplace all of them. Read from the cache: no query on most pages.

    Drawn as an inclusion tag would (a context of their own, with the CSRF token), and
    not drawn at all when no shop is closed, as on most pages: what the empty template
    gives is its final newline."""
    shown = banners()
    marketplace = context.get("page_marketplace")
    incident = context.get("incident")
    connection_id = getattr(marketplace, "pk", None) or getattr(incident, "connection_id", None)
    if connection_id is not None:
        shown = [b for b in shown if b.connection_id == connection_id]
    if not shown:
        return "\n"
    engine = context.template.engine if context.template else template.Engine.get_default()
    own = context.new({"banners": shown, "perms": context.get("perms")})
    token = context.get("csrf_token")
    if token is not None:
        own["csrf_token"] = token
    return engine.get_template(BANNERS_TEMPLATE).render(own)
