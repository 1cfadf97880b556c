"""The reply linter: warnings, never blocks, on the quality rules of the seller guides.

PcComponentes' quality criteria (DOMAIN.md, "Quality rules for replies"): replies in the
platform's language (Spanish), not too long, personalised rather than automated, every
exchange through the platform's messages (no phone numbers, e-mail addresses or "fuera
de la plataforma" without writing down what was said), and on
a withdrawal never ask why the customer returns the item nor ask for photos or
documents. :func:`reply_lint` is a pure function of the text and a little context, so
each rule has a table-driven test; the reply form shows its warnings and lets the agent
send anyway.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

__all__ = [
    "MAX_REPLY_CHARS",
    "LintWarning",
    "is_withdrawal_reason",
    "reply_confirmations",
    "reply_lint",
]

#: Above this a reply is "too long" for the marketplaces' taste.
MAX_REPLY_CHARS = 1200
#: Below this many words the language guess is not reliable enough to warn.
_MIN_WORDS_FOR_LANGUAGE = 4

_WORD = re.compile(r"[a-zñ]+")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}|\[\s*(?:nombre|name|xx+|\.\.\.)\s*\]", re.IGNORECASE)

# Frequent short words that tell Spanish from English (accents removed, lower case).
_SPANISH = frozenset(
    [
        "el",
        "la",
        "los",
        "las",
        "de",
        "del",
        "que",
        "y",
        "en",
        "un",
        "una",
        "por",
        "con",
        "para",
        "su",
        "sus",
        "al",
        "lo",
        "como",
        "mas",
        "pero",
        "ya",
        "hola",
        "gracias",
        "le",
        "te",
        "se",
        "no",
        "si",
        "es",
        "esta",
        "este",
        "estamos",
        "hemos",
        "ha",
        "tu",
        "usted",
        "pedido",
        "envio",
        "muy",
        "le",
        "nos",
        "saludo",
        "saludos",
        "un",
        "cuando",
        "donde",
        "quedo",
        "quedamos",
        "disculpa",
        "sentimos",
    ]
)
_ENGLISH = frozenset(
    [
        "the",
        "and",
        "of",
        "to",
        "in",
        "is",
        "it",
        "you",
        "that",
        "for",
        "on",
        "with",
        "this",
        "your",
        "we",
        "are",
        "be",
        "have",
        "has",
        "as",
        "at",
        "hello",
        "hi",
        "thanks",
        "thank",
        "please",
        "order",
        "will",
        "our",
        "can",
        "not",
        "from",
        "dear",
        "regards",
        "sorry",
    ]
)

_WITHDRAWAL_LABELS = ("desistimiento", "devolucion", "withdrawal", "return")
_ASKS_REASON = re.compile(
    r"por\s+que\b|\bmotivo|\brazon\b|\bcausa\b|que\s+(?:le|te)\s+(?:ha|ocurre|pasa)",
)
_ASKS_PROOF = re.compile(
    r"\bfotos?\b|\bfotografia|\bimagen|\bimagenes|\bvideos?\b|\bdocumento|\bjustificante"
    r"|\bprueba\b|\bpruebas\b",
)

#: An e-mail address anywhere in the text.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: A phone number: nine digits starting with 6, 7, 8 or 9 (Spain), grouped by spaces,
#: dots or dashes, with an optional international prefix (+34, 0034...). Not a longer
#: run of digits (tracking and order numbers).
_PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)\d{2,3}[\s.-]?)?[6789](?:[\s.-]?\d){8}(?![\w-])")
#: Asking to move the conversation off the marketplace (text folded: no accents).
_OFF_PLATFORM = re.compile(r"fuera\s+de\s+la\s+plataforma|outside\s+(?:of\s+)?the\s+platform")


@dataclass(frozen=True, slots=True)
class LintWarning:
    """One warning: a stable ``code`` (tests, CSS) and the message shown to the agent."""

    code: str
    message: str | Promise


def _fold(text: str) -> str:
    """Lower case without accents, so "razón" and "razon" match the same pattern."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _normalise(text: str) -> str:
    return " ".join(text.split())


def is_withdrawal_reason(label: str) -> bool:
    """True when an incident reason is a withdrawal (the customer returns the item)."""
    folded = _fold(label)
    return any(word in folded for word in _WITHDRAWAL_LABELS)


def _looks_foreign(folded: str) -> bool:
    words = _WORD.findall(folded)
    if len(words) < _MIN_WORDS_FOR_LANGUAGE:
        return False
    spanish = sum(word in _SPANISH for word in words)
    english = sum(word in _ENGLISH for word in words)
    return spanish == 0 or english > spanish


def reply_lint(
    body: str, *, withdrawal: bool = False, templates: Iterable[str] = ()
) -> list[LintWarning]:
    """Warnings about a reply before it is sent; an empty list means "looks fine".

    :param body: the text as the agent wrote it.
    :param withdrawal: the incident is a withdrawal (a return within the legal period).
    :param templates: canned replies as offered to the agent; sending one unchanged is
        the "automated reply that adds no value" the marketplaces penalise.
    """
    text = body.strip()
    if not text:
        return [LintWarning("empty", _("The message is empty."))]
    warnings: list[LintWarning] = []
    normalised = _normalise(text)
    if _PLACEHOLDER.search(text):
        warnings.append(
            LintWarning("placeholder", _("Some template fields are still to be filled in."))
        )
    elif any(normalised == _normalise(t) for t in templates if t.strip()):
        warnings.append(
            LintWarning(
                "template_only",
                _("This is a canned reply left unchanged: personalise it for this customer."),
            )
        )
    if len(text) > MAX_REPLY_CHARS:
        warnings.append(
            LintWarning(
                "too_long",
                _("The message is long (%(n)d characters): marketplaces ask for short replies.")
                % {"n": len(text)},
            )
        )
    folded = _fold(text)
    if _looks_foreign(folded):
        warnings.append(
            LintWarning("language", _("The message does not look Spanish: write in Spanish."))
        )
    if _PHONE.search(text):
        warnings.append(
            LintWarning(
                "phone",
                _(
                    "The message gives a phone number: talk to the customer through the "
                    "platform's messages, and if you call, write down here what was said."
                ),
            )
        )
    if _EMAIL.search(text):
        warnings.append(
            LintWarning(
                "email",
                _(
                    "The message gives an e-mail address: every exchange with the customer "
                    "goes through the platform's messages."
                ),
            )
        )
    if _OFF_PLATFORM.search(folded):
        warnings.append(
            LintWarning(
                "off_platform",
                _(
                    "Contact outside the platform: if there is no other way, write down in "
                    "the platform's messages what was said."
                ),
            )
        )
    if withdrawal:
        if _ASKS_REASON.search(folded):
            warnings.append(
                LintWarning(
                    "withdrawal_reason",
                    _("On a withdrawal, never ask the customer why they return the item."),
                )
            )
        if _ASKS_PROOF.search(folded):
            warnings.append(
                LintWarning(
                    "withdrawal_proof",
                    _("On a withdrawal, never ask for photos or documents to accept the return."),
                )
            )
    return warnings


def reply_confirmations(
    *,
    choice: str,
    last_inbound_author: str | None,
    operator_involved: bool,
    last_message_id: str | None,
    seen_last_message_id: str | None,
) -> list[LintWarning]:
    """What the agent must confirm before a reply goes out ("Send anyway").

    :param choice: ``CUSTOMER``, ``OPERATOR`` or ``BOTH``.
    :param last_inbound_author: who wrote the thread's last inbound message, if anyone.
    :param operator_involved: the operator wrote in this thread.
    :param last_message_id: the thread's last message id now.
    :param seen_last_message_id: the last message id when the form was shown.
    """
    warnings: list[LintWarning] = []
    if last_message_id and last_message_id != (seen_last_message_id or ""):
        warnings.append(
            LintWarning(
                "new_message",
                _("A new message arrived while you were writing: read it before sending."),
            )
        )
    if choice == "BOTH" and not operator_involved:
        warnings.append(
            LintWarning(
                "operator_copy",
                _(
                    "You are copying the operator, who has not written in this conversation. "
                    "Operators ask shops not to copy them unless it is necessary."
                ),
            )
        )
    elif choice == "OPERATOR" and last_inbound_author == "CUSTOMER":
        warnings.append(
            LintWarning(
                "operator_only",
                _("Only the operator will see this message, but the customer wrote last."),
            )
        )
    return warnings
