"""The marketplace's reason list (what RE01 returns), in Spanish.

Codes follow what real Mirakl marketplaces expose (MIRAKL_API.md section 4): INCIDENT_OPEN
"1"-"6", REFUND "14"-"19", ORDER_MESSAGING "20"... (the real M11 capture uses topics "20"
and "22"). INCIDENT_CLOSE codes are marketplace specific; the shop may only use the
``is_shop_right`` ones with OR64.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CANCELATION",
    "INCIDENT_CLOSE",
    "INCIDENT_OPEN",
    "ORDER_MESSAGING",
    "REASONS",
    "REFUND",
    "Reason",
    "reason_label",
    "reasons_of_type",
    "reasons_payload",
]

INCIDENT_OPEN = "INCIDENT_OPEN"
INCIDENT_CLOSE = "INCIDENT_CLOSE"
REFUND = "REFUND"
ORDER_MESSAGING = "ORDER_MESSAGING"
CANCELATION = "CANCELATION"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    label: str
    type: str
    is_shop_right: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "label": self.label,
            "type": self.type,
            "is_shop_right": self.is_shop_right,
        }


# Listed per type in back-office order; RE01 sorts by type, then by this order.
REASONS: tuple[Reason, ...] = (
    Reason("31", "Sin stock", CANCELATION, True),
    Reason("32", "Cancelado a petición del cliente", CANCELATION, True),
    Reason("33", "Error en el precio de la oferta", CANCELATION, True),
    Reason(
        "INC_SOLVED_REPLACEMENT",
        "Producto sustituido y recibido por el cliente",
        INCIDENT_CLOSE,
        True,
    ),
    Reason("INC_SOLVED_REFUND", "Reembolso realizado al cliente", INCIDENT_CLOSE, True),
    Reason("INC_SOLVED_DELIVERED", "Pedido entregado al cliente", INCIDENT_CLOSE, True),
    Reason("INC_SOLVED_RETURN", "Devolución recibida y reembolsada", INCIDENT_CLOSE, True),
    Reason(
        "INC_SOLVED_REPAIRED", "Producto reparado en garantía y entregado", INCIDENT_CLOSE, True
    ),
    Reason(
        "INC_SOLVED_INFO", "Consulta resuelta con la información facilitada", INCIDENT_CLOSE, True
    ),
    Reason(
        "INC_CLOSED_OPERATOR", "Cerrada por el operador tras su revisión", INCIDENT_CLOSE, False
    ),
    Reason("INC_CLOSED_FULL_REFUND", "Cerrada por reembolso total", INCIDENT_CLOSE, False),
    Reason("1", "Artículo no recibido", INCIDENT_OPEN, False),
    Reason("2", "Artículo no conforme con el pedido", INCIDENT_OPEN, False),
    Reason("3", "Artículo defectuoso", INCIDENT_OPEN, False),
    Reason("4", "Artículo dañado en el transporte", INCIDENT_OPEN, False),
    Reason("5", "Desistimiento / devolución", INCIDENT_OPEN, False),
    Reason("6", "Garantía", INCIDENT_OPEN, False),
    Reason("20", "Pregunta acerca de mi pedido", ORDER_MESSAGING, True),
    Reason("21", "Solicitud de factura", ORDER_MESSAGING, True),
    Reason("22", "Informar de un problema con el artículo recibido", ORDER_MESSAGING, True),
    Reason("23", "Quiero cancelar mi pedido", ORDER_MESSAGING, True),
    Reason("24", "Devolución del artículo", ORDER_MESSAGING, True),
    Reason("25", "Información sobre el envío", ORDER_MESSAGING, True),
    Reason("26", "Otras cuestiones", ORDER_MESSAGING, True),
    Reason("14", "Artículo defectuoso o dañado", REFUND, True),
    Reason("15", "Sin stock", REFUND, True),
    Reason("16", "Cancelado por el cliente", REFUND, True),
    Reason("17", "Artículo devuelto", REFUND, True),
    Reason("18", "Artículo no recibido", REFUND, True),
    Reason("19", "Acuerdo con el cliente", REFUND, True),
)

_BY_TYPE: dict[str, dict[str, Reason]] = {}
for _reason in REASONS:
    _BY_TYPE.setdefault(_reason.type, {})[_reason.code] = _reason


def reasons_of_type(reason_type: str) -> dict[str, Reason]:
    """Reasons of one type, by code."""
    return _BY_TYPE.get(reason_type, {})


def reason_label(reason_type: str, code: str) -> str | None:
    reason = _BY_TYPE.get(reason_type, {}).get(code)
    return reason.label if reason else None


def reasons_payload() -> dict[str, list[dict[str, object]]]:
    """The RE01 body: every reason, sorted by type then back-office order."""
    ordered = sorted(enumerate(REASONS), key=lambda item: (item[1].type, item[0]))
    return {"reasons": [reason.as_dict() for _, reason in ordered]}
