"""The reply linter and the confirmations asked before sending: pure functions, tables."""

from __future__ import annotations

import pytest

from messaging.linter import (
    MAX_REPLY_CHARS,
    is_withdrawal_reason,
    reply_confirmations,
    reply_lint,
)

GOOD = "Hola Lucía, sentimos las molestias. Hoy mismo te enviamos una unidad nueva. Un saludo."
TEMPLATE = "Hola Lucía, tu pedido 1234-A viaja con SEUR. Un saludo."


def codes(warnings) -> set[str]:
    return {w.code for w in warnings}


@pytest.mark.parametrize(
    ("body", "withdrawal", "expected"),
    [
        (GOOD, False, set()),
        (GOOD, True, set()),
        ("", False, {"empty"}),
        ("   \n  ", False, {"empty"}),
        ("Hola {customer_name}, tu pedido está en camino.", False, {"placeholder"}),
        ("Hola [nombre], tu pedido está en camino.", False, {"placeholder"}),
        (TEMPLATE, False, {"template_only"}),
        ("  Hola Lucía,  tu pedido 1234-A viaja\ncon SEUR. Un saludo. ", False, {"template_only"}),
        (TEMPLATE + " Mañana te llamamos.", False, set()),
        ("Hola. " + "Te enviamos el pedido de nuevo. " * 60, False, {"too_long"}),
        ("Hello Lucia, we are sorry: we will send you a new one today.", False, {"language"}),
        ("Thanks for your order, the parcel is on the way to you.", False, {"language"}),
        ("Gracias", False, set()),  # too short to guess a language
        (
            "Hola, para tramitar la devolución, ¿nos indicas por qué lo devuelves?",
            True,
            {"withdrawal_reason"},
        ),
        ("Hola, ¿cuál es el motivo de la devolución? Un saludo.", True, {"withdrawal_reason"}),
        ("Hola, ¿nos envías unas fotos del artículo? Un saludo.", True, {"withdrawal_proof"}),
        ("Hola, adjunta una fotografía y el justificante, gracias.", True, {"withdrawal_proof"}),
        (
            "Hola, ¿por qué lo devuelves? Envíanos una foto, por favor.",
            True,
            {"withdrawal_reason", "withdrawal_proof"},
        ),
        # The same questions are fine outside a withdrawal (a defective item).
        ("Hola, ¿nos envías unas fotos del defecto? Un saludo.", False, set()),
    ],
)
def test_reply_lint(body: str, withdrawal: bool, expected: set[str]) -> None:
    assert codes(reply_lint(body, withdrawal=withdrawal, templates=[TEMPLATE])) == expected


def test_every_warning_has_a_message() -> None:
    warnings = reply_lint("Hello {name} please send photos of the item", withdrawal=True)
    assert warnings
    assert all(str(w.message) for w in warnings)


def test_too_long_starts_after_the_limit() -> None:
    body = ("Hola, te escribimos sobre el pedido. " * 100)[:MAX_REPLY_CHARS]
    assert "too_long" not in codes(reply_lint(body))
    assert "too_long" in codes(reply_lint(body + " Un saludo."))


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Desistimiento / devolución", True),
        ("Devolución del artículo", True),
        ("Withdrawal", True),
        ("Artículo defectuoso", False),
        ("Garantía", False),
        ("", False),
    ],
)
def test_is_withdrawal_reason(label: str, expected: bool) -> None:
    assert is_withdrawal_reason(label) is expected


@pytest.mark.parametrize(
    ("choice", "last_inbound", "operator_involved", "now", "seen", "expected"),
    [
        ("CUSTOMER", "CUSTOMER", False, "m2", "m2", set()),
        ("CUSTOMER", "CUSTOMER", False, "m3", "m2", {"new_message"}),
        ("CUSTOMER", None, False, None, "", set()),
        ("BOTH", "CUSTOMER", False, "m2", "m2", {"operator_copy"}),
        ("BOTH", "OPERATOR", True, "m2", "m2", set()),
        ("OPERATOR", "OPERATOR", True, "m2", "m2", set()),
        ("OPERATOR", "CUSTOMER", False, "m2", "m2", {"operator_only"}),
        ("BOTH", "CUSTOMER", False, "m3", "m2", {"new_message", "operator_copy"}),
    ],
)
def test_reply_confirmations(choice, last_inbound, operator_involved, now, seen, expected) -> None:
    warnings = reply_confirmations(
        choice=choice,
        last_inbound_author=last_inbound,
        operator_involved=operator_involved,
        last_message_id=now,
        seen_last_message_id=seen,
    )
    assert codes(warnings) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hola Lucía, llámanos al 612 345 678 y lo vemos. Un saludo.", {"phone"}),
        ("Hola Lucía, llámanos al +34 912-345-678 y lo vemos. Un saludo.", {"phone"}),
        ("Hola Lucía, nuestro teléfono es 0034 655.44.33.22, un saludo.", {"phone"}),
        ("Hola Lucía, escríbenos a soporte@tienda.es y te ayudamos. Un saludo.", {"email"}),
        (
            "Hola Lucía, lo hablamos fuera de la plataforma si te parece. Un saludo.",
            {"off_platform"},
        ),
        (
            "Hola Lucía, escríbenos a ventas@tienda.com o al 698765432, fuera de la Plataforma.",
            {"phone", "email", "off_platform"},
        ),
        # Not phone numbers: the order number, a tracking number, an amount, a date.
        ("Hola Lucía, tu pedido 2133225717-A está en camino. Un saludo.", set()),
        ("Hola Lucía, el seguimiento es 6123456789012 con SEUR. Un saludo.", set()),
        ("Hola Lucía, te reembolsamos 612,34 € el 06/12/2026. Un saludo.", set()),
    ],
)
def test_reply_lint_contact_outside_the_platform(body: str, expected: set[str]) -> None:
    assert codes(reply_lint(body)) == expected
