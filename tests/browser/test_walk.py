"""Every page in Spanish and in English, in a real browser, as a support team sees them.

On demo-like data (the sandbox's shop synced, the SLA swept, a refund waiting for
approval, a closed incident), an admin walks every desk page and the admin pages a
seller's admin opens, once in each language, and the test fails on:

- a raw Mirakl code on screen (:data:`core.mirakl_codes.RAW_CODES` and its patterns:
  the list is kept with the labels that replace them);
- a string of the other language: on a Spanish page an English ``msgid`` of our
  catalogue, on an English page its Spanish ``msgstr`` (Mirakl's own texts, the
  customers' messages and product names are data, in Spanish whatever the language,
  and are left out first);
- a page wider than a phone (390 px) for the queue and the incident or order page:
  a support agent uses them on a phone without scrolling sideways.

Screenshots of every page at 1440×900 and 390×844 (the top of the page, as a screen
shows it) go to ``artifacts/walk/``.
"""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import NoReverseMatch, reverse

from core.mirakl_codes import RAW_CODE_PATTERNS, RAW_CODES
from core.models import MarketplaceReason, Order, OrderLine
from core.roles import roles_sync
from core.sync.runner import marketplace_sync
from incidents.models import Incident
from messaging.models import CannedReply, Message, Thread
from sla.health.rulebook import rulebooks_install
from sla.services import sla_sweep
from tests.browser.test_workspace import ARTIFACTS, PASSWORD, launched
from tests.browser.test_workspace import chromium as chromium  # noqa: F401 - fixture
from tests.factories.core import UserFactory

# live_server needs committed data (see test_workspace.py).
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS / "walk"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCALES = {"es": "es-ES", "en": "en-GB"}

#: Text nodes of visible elements, as written in the HTML (``innerText`` would give the
#: upper case of ``text-transform`` headers: "RECEIVED" for "Received").
VISIBLE_TEXT_JS = """() => {
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'TEXTAREA']);
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || skip.has(el.tagName) || !node.textContent.trim()) continue;
    if (el.closest('details:not([open]) > :not(summary)')) continue;
    if (el.checkVisibility && !el.checkVisibility()) continue;
    out.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll('[title], [placeholder], [aria-label]')) {
    if (el.checkVisibility && !el.checkVisibility()) continue;
    for (const name of ['title', 'placeholder', 'aria-label']) {
      const value = el.getAttribute(name);
      if (value && value.trim()) out.push(value.trim());
    }
  }
  return out;
}"""

WIDTH_JS = "() => [document.documentElement.scrollWidth, window.innerWidth]"

#: The refunds panel's "Línea" column: product names on a line, not a letter per line.
REFUND_LINE_WIDTH_JS = """() => Array.from(
  document.querySelectorAll('.refund-lines tbody tr:first-child td:first-child'),
  td => td.getBoundingClientRect().width)"""

#: The SLA review's breakdown tables: side by side without overlapping or hiding columns.
BREAKDOWN_JS = """() => {
  const boxes = Array.from(document.querySelectorAll('.breakdown > div'), div => {
    const r = div.getBoundingClientRect();
    const table = div.querySelector('table');
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
            hidden: table.getBoundingClientRect().width > div.clientWidth + 1
                    && div.scrollWidth <= div.clientWidth};
  });
  const overlaps = [];
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => {
    const apart = a.right <= b.left + 1 || b.right <= a.left + 1
      || a.bottom <= b.top + 1 || b.bottom <= a.top + 1;
    if (!apart) overlaps.push([a, b]);
  }));
  const hidden = boxes.filter(b => b.hidden).length;
  return {count: boxes.length, overlaps: overlaps.length, hidden: hidden};
}"""


@dataclass(frozen=True, slots=True)
class Walk:
    """What the browser walks, read from the database before it starts."""

    pages: dict[str, str]
    #: Pages a phone must show without sideways scrolling.
    phone_pages: tuple[str, ...]
    #: Data texts (Mirakl's and the customers'), in Spanish in both languages.
    data: tuple[str, ...]
    admin_pages: dict[str, str] = field(default_factory=dict)


def _catalogue() -> dict[str, str]:
    """Our ``msgid`` → Spanish ``msgstr`` (translated entries only)."""
    path = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.mo"
    with path.open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
    out: dict[str, str] = {}
    for key, value in catalog.items():
        if not key or not value:
            continue
        msgid = key[0] if isinstance(key, tuple) else key
        if isinstance(key, tuple) and key[1] != 0:
            continue  # the plural forms: the singular stands for them
        if "\x04" in msgid:
            msgid = msgid.split("\x04", 1)[1]  # a context
        out[msgid] = value
    return out


_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdf]|%[sdf]|\{[^}]*\}|<[^>]+>")


def _fragments(text: str) -> list[str]:
    """The literal parts of a message long and distinctive enough to be looked for:
    three words at least (a word or two, "Total", "Marketplace", "Email", is the same
    in both languages or is a product's name)."""
    parts = [p.strip(" .,:;·()«»\"'…") for p in _PLACEHOLDER.split(text)]
    return [p for p in parts if len(p.split()) >= 3 and len(p) >= 14]


def _tells() -> dict[str, list[tuple[str, str]]]:
    """Per language, the (fragment, msgid) whose sight on its page means the other
    language leaked in: English msgids on Spanish pages, Spanish msgstrs on English."""
    english: list[tuple[str, str]] = []
    spanish: list[tuple[str, str]] = []
    for msgid, msgstr in _catalogue().items():
        if msgid.strip() == msgstr.strip():
            continue
        english_parts, spanish_parts = _fragments(msgid), _fragments(msgstr)
        english += [(p, msgid) for p in english_parts if p not in msgstr]
        spanish += [(p, msgid) for p in spanish_parts if p not in msgid]
    return {"es": english, "en": spanish}


def _raw_codes(text: str) -> list[str]:
    found = [code for code in RAW_CODES if re.search(rf"(?<![\w-]){code}(?![\w-])", text)]
    for pattern in RAW_CODE_PATTERNS:
        found += pattern.findall(text)
    return found


def _optional(name: str, *args: object) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _walk_plan(connection) -> Walk:
    open_incident = (
        Incident.objects.filter(closed_at__isnull=True, line__refunds__isnull=False)
        .order_by("pk")
        .first()
        or Incident.objects.filter(closed_at__isnull=True).order_by("pk").first()
    )
    closed_incident = Incident.objects.filter(closed_at__isnull=False).order_by("pk").first()
    assert open_incident is not None and closed_incident is not None
    order_without_incident = Order.objects.filter(incidents__isnull=True).order_by("pk").first()
    pages = {
        "overview": "/",
        "queue": "/incidents/",
        "queue-closed": "/incidents/?status=closed",
        "incident": f"/incidents/{open_incident.pk}/",
        "incident-closed": f"/incidents/{closed_incident.pk}/",
        "refund-full": f"/refunds/incidents/{open_incident.pk}/full/",
        "refund-partial": f"/refunds/incidents/{open_incident.pk}/partial/",
        "approvals": "/refunds/approvals/",
        "sla": "/sla/",
        "health": "/sla/health/",
        "health-detail": f"/sla/health/{connection.code}/",
        "notifications": "/notifications/",
        "logout-everywhere": "/accounts/logout-everywhere/",
    }
    phone = ["queue", "incident"]
    # The order page, once the desk has one.
    for name, pk in (
        ("order", open_incident.order_id),
        ("order-no-incident", getattr(order_without_incident, "pk", None)),
    ):
        url = _optional("desk:order", pk) if pk else None
        if url:
            pages[name] = url
            phone.append(name)
    admin_pages = {
        "admin": "/admin/",
        "admin-connection": f"/admin/core/marketplaceconnection/{connection.pk}/change/",
        "admin-orders": "/admin/core/order/",
        "admin-sync-runs": "/admin/core/syncrun/",
        "admin-incidents": "/admin/incidents/incident/",
        "admin-audit": "/admin/incidents/auditentry/",
        "admin-sla-items": "/admin/sla/slaitem/",
        "admin-outbox": "/admin/core/outboxentry/",
    }
    data: set[str] = set()
    data |= set(MarketplaceReason.objects.values_list("label", flat=True))
    data |= set(CannedReply.objects.values_list("title", flat=True))
    data |= set(Thread.objects.values_list("topic_value", flat=True))
    data |= set(Message.objects.values_list("body", flat=True))
    data |= set(OrderLine.objects.values_list("product_title", flat=True))
    data |= set(Order.objects.values_list("shipping_type", flat=True))
    data |= set(Order.objects.values_list("shipping_company", flat=True))
    return Walk(
        pages=pages,
        phone_pages=tuple(phone),
        data=tuple(sorted((d for d in data if d), key=len, reverse=True)),
        admin_pages=admin_pages,
    )


def _setup(connection, sandbox, sandbox_client) -> Walk:
    # A transactional test may have flushed the migrations' data: roles and presets again.
    roles_sync()
    rulebooks_install()
    connection.sla_policy = "pccomponentes"
    connection.save(update_fields=["sla_policy"])
    marketplace_sync(connection=connection, client=sandbox_client)
    # A closed incident: the operator closes one the shop marked resolved.
    incident = Incident.objects.filter(closed_at__isnull=True).order_by("pk").first()
    assert incident is not None
    sandbox.state.resolve_incident(
        incident.order.mirakl_id, incident.line.mirakl_id, "INC_SOLVED_DELIVERED"
    )
    sandbox.state.advance(sandbox.state.auto_close_ms / 1000 + 1)
    marketplace_sync(connection=connection, client=sandbox_client)
    sla_sweep(full=True)
    UserFactory(
        username="ines",
        first_name="Inés",
        last_name="Prieto",
        password=PASSWORD,
        is_staff=True,
        is_superuser=True,
    )
    return _walk_plan(connection)


@dataclass
class Findings:
    raw: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    wide: list[str] = field(default_factory=list)
    layout: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def report(self) -> str:
        lines = []
        for title, items in (
            ("raw Mirakl codes", self.raw),
            ("the other language", self.language),
            ("wider than a phone", self.wide),
            ("layout", self.layout),
            ("errors", self.errors),
        ):
            if items:
                lines.append(f"{title}:")
                lines += [f"  {item}" for item in items]
        return "\n".join(lines)


def _check(page, lang: str, name: str, walk: Walk, tells, findings: Findings) -> None:
    texts = page.evaluate(VISIBLE_TEXT_JS)
    text = "\n".join(texts)
    for datum in walk.data:
        if datum in text:
            text = text.replace(datum, " ")
    for code in _raw_codes(text):
        findings.raw.append(f"{lang} {name}: {code}")
    for fragment, msgid in tells[lang]:
        if fragment in text:
            findings.language.append(f"{lang} {name}: {fragment!r} (msgid {msgid!r})")


def _layout(page, lang: str, name: str, findings: Findings) -> None:
    """The layout defects a support agent saw, checked on the desktop width."""
    if name == "incident":
        widths = page.evaluate(REFUND_LINE_WIDTH_JS)
        if not widths or min(widths) < 100:
            findings.layout.append(f"{lang} {name}: refund line column {widths} px")
    if name == "sla":
        boxes = page.evaluate(BREAKDOWN_JS)
        if boxes["count"] != 3 or boxes["overlaps"] or boxes["hidden"]:
            findings.layout.append(f"{lang} {name}: breakdown tables {boxes}")


def _failed_into(failed: list[str]):
    """A response listener keeping the URLs that failed (a favicon, a script, a tab)."""

    def listen(response) -> None:
        if response.status >= 400:
            failed.append(response.url)

    return listen


def _login(browser, base_url: str, lang: str):
    context = browser.new_context(viewport=DESKTOP, locale=LOCALES[lang])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", "ines")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".topbar")
    return context, page


def test_every_page_in_both_languages(
    live_server, chromium, connection, sandbox, sandbox_client
) -> None:
    walk = _setup(connection, sandbox, sandbox_client)
    tells = _tells()
    SHOTS.mkdir(parents=True, exist_ok=True)
    findings = Findings()
    with launched(chromium) as browser:
        for lang in ("es", "en"):
            context, page = _login(browser, live_server.url, lang)
            failed: list[str] = []
            page.on("response", _failed_into(failed))
            for name, url in {**walk.pages, **walk.admin_pages}.items():
                page.set_viewport_size(DESKTOP)
                response = page.goto(f"{live_server.url}{url}")
                page.wait_for_load_state("load")
                if response is None or response.status != 200:
                    findings.errors.append(f"{lang} {name}: {url} answered {response}")
                    continue
                assert page.evaluate("document.documentElement.lang") == lang, (lang, name)
                _check(page, lang, name, walk, tells, findings)
                _layout(page, lang, name, findings)
                page.screenshot(path=str(SHOTS / f"{lang}-{name}-1440.png"))
                if name in walk.admin_pages:
                    continue
                page.set_viewport_size(PHONE)
                page.wait_for_timeout(50)
                page.screenshot(path=str(SHOTS / f"{lang}-{name}-390.png"))
                if name in walk.phone_pages:
                    scroll_width, width = page.evaluate(WIDTH_JS)
                    if scroll_width > width:
                        findings.wide.append(f"{lang} {name}: {scroll_width} px for {width}")
            findings.errors += [f"{lang}: {url} failed" for url in failed]
            context.close()
    assert not findings.report(), findings.report()
