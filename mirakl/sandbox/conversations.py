"""Conversation scripts: the Spanish messages the generator and the "other parties" write.

A script is a list of steps ``(party, recipients, body template, attachment kind)``; the
generator plays a prefix of it, so a thread may stop while the shop still has to answer.
The shop's lines follow the marketplace's quality rules (DOMAIN.md): friendly, short, never
asking why a customer returns an item, warranty options after 30 days, free pickup.
Placeholders: {order_id} {name} {product} {carrier} {tracking} {tracking2} {reason}.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONTEST_BODY",
    "INCIDENT_OPENED_BODY",
    "INCIDENT_SCRIPTS",
    "LONG_THREAD_FILLERS",
    "OTHER_SCRIPTS",
    "Script",
    "Step",
]

CUSTOMER = "CUSTOMER"
OPERATOR = "OPERATOR"
SHOP = "SHOP"

# (party, recipients, body template, attachment kind or None)
Step = tuple[str, tuple[str, ...], str, str | None]


@dataclass(frozen=True, slots=True)
class Script:
    kind: str
    topic_type: str
    topic_value: str
    steps: tuple[Step, ...]
    # Number of leading steps written before the incident opened (the operator's
    # incident message is inserted after them); None for scripts without an incident.
    incident_after: int | None = None
    # The customer's closing "thank you" (a candidate for "no reply needed").
    ends_with_thanks: bool = False


INCIDENT_OPENED_BODY = (
    "Se ha abierto una incidencia en el pedido {order_id} por el motivo «{reason}». "
    "Por favor, gestione el caso con el cliente y responda en un plazo máximo de "
    "24 horas laborables."
)

CONTEST_BODY = (
    "Impugnamos la resolución de la incidencia del pedido {order_id}: el cliente indica que "
    "el problema no está resuelto. Por favor, continúe gestionando el caso y no la marque "
    "como resuelta hasta que el cliente lo confirme."
)

_CS = (SHOP,)
_CSO = (SHOP, OPERATOR)
_SC = (CUSTOMER,)
_SO = (OPERATOR,)

INCIDENT_SCRIPTS: dict[str, Script] = {
    "1": Script(
        "not_received",
        "FREE_TEXT",
        "Artículo no recibido",
        (
            (
                CUSTOMER,
                _CSO,
                "Buenas, el seguimiento de {carrier} dice que el pedido {order_id} "
                "está entregado, pero yo no he recibido nada y nadie en casa ha firmado el "
                "albarán.",
                None,
            ),
            (
                SHOP,
                _SC,
                "Hola {name}, lamentamos mucho la situación. Hemos abierto una "
                "reclamación con {carrier} para localizar el paquete ({tracking}). Si en 48 horas "
                "no aparece, te enviamos otra unidad o te reembolsamos el importe, como "
                "prefieras.",
                None,
            ),
            (
                CUSTOMER,
                _CS,
                "Vale, quedo a la espera. Si no aparece prefiero que me lo enviéis de nuevo.",
                None,
            ),
            (
                SHOP,
                _SC,
                "Hola {name}, {carrier} no ha localizado el paquete, así que hoy te "
                "hemos enviado una unidad nueva. El nuevo seguimiento es {tracking2}.",
                None,
            ),
            (CUSTOMER, _CS, "Ya lo he recibido, todo correcto. ¡Muchas gracias!", None),
        ),
        incident_after=1,
        ends_with_thanks=True,
    ),
    "2": Script(
        "not_as_ordered",
        "FREE_TEXT",
        "Informar de un problema con el artículo recibido",
        (
            (
                CUSTOMER,
                _CS,
                "Hola, he recibido el pedido {order_id} pero no es lo que compré: "
                "en la caja viene un modelo distinto del {product}.",
                "photo",
            ),
            (
                SHOP,
                _SC,
                "Hola {name}, disculpa el error al preparar tu pedido. Mañana pasará "
                "{carrier} a recogerlo sin coste y, en cuanto salga, te enviamos el modelo "
                "correcto.",
                None,
            ),
            (CUSTOMER, _CS, "De acuerdo, dejo la caja preparada. Gracias.", None),
            (SHOP, _SC, "El artículo correcto ya está en camino. Seguimiento: {tracking2}.", None),
            (CUSTOMER, _CS, "Recibido el producto correcto. Gracias por la rapidez.", None),
        ),
        incident_after=1,
        ends_with_thanks=True,
    ),
    "3": Script(
        "defective",
        "REASON_CODE",
        "22",
        (
            (
                CUSTOMER,
                _CSO,
                "Hola, el {product} que recibí no funciona: el equipo no arranca "
                "con él instalado y en otro ordenador pasa lo mismo. Adjunto una foto.",
                "photo",
            ),
            (
                SHOP,
                _SC,
                "Hola {name}, sentimos mucho las molestias. Te enviamos una unidad de "
                "sustitución y {carrier} recogerá la defectuosa sin ningún coste para ti.",
                None,
            ),
            (CUSTOMER, _CS, "Gracias. ¿Cuándo pasaría la recogida?", None),
            (
                SHOP,
                _SC,
                "La recogida está programada para mañana de 9:00 a 14:00. La unidad "
                "nueva sale hoy con el seguimiento {tracking2}.",
                None,
            ),
            (
                CUSTOMER,
                _CS,
                "Recibida la unidad nueva y funciona perfectamente. Muchas gracias por la gestión.",
                None,
            ),
        ),
        incident_after=1,
        ends_with_thanks=True,
    ),
    "4": Script(
        "damaged",
        "FREE_TEXT",
        "Informar de un problema con el artículo recibido",
        (
            (
                CUSTOMER,
                _CSO,
                "El paquete llegó con la caja aplastada y el {product} tiene un "
                "golpe visible. Os mando fotos del embalaje.",
                "photo",
            ),
            (
                SHOP,
                _SC,
                "Hola {name}, lamentamos lo ocurrido. Con las fotos es suficiente: "
                "reclamamos nosotros a {carrier} y hoy mismo te enviamos otra unidad.",
                None,
            ),
            (CUSTOMER, _CS, "Genial. ¿Qué hago con el producto dañado?", None),
            (
                SHOP,
                _SC,
                "No tienes que hacer nada: {carrier} pasará a recogerlo cuando te "
                "entregue la unidad nueva ({tracking2}).",
                None,
            ),
            (CUSTOMER, _CS, "Perfecto, muchas gracias.", None),
        ),
        incident_after=1,
        ends_with_thanks=True,
    ),
    "5": Script(
        "withdrawal",
        "REASON_CODE",
        "24",
        (
            (
                CUSTOMER,
                _CS,
                "Hola, quiero devolver el {product} del pedido {order_id}. Está "
                "sin usar y en su caja original.",
                None,
            ),
            (
                SHOP,
                _SC,
                "Hola {name}, sin problema. Te hemos programado una recogida gratuita "
                "con {carrier}; recibirás un SMS con el día. Al recibir el artículo te "
                "reembolsaremos el importe completo, gastos de envío incluidos.",
                None,
            ),
            (CUSTOMER, _CS, "Perfecto, el mensajero ya lo ha recogido.", None),
            (
                SHOP,
                _SC,
                "Hemos recibido el artículo en el almacén. Hoy tramitamos el "
                "reembolso; lo verás en tu cuenta en unos días.",
                None,
            ),
            (CUSTOMER, _CS, "Gracias por todo.", None),
        ),
        incident_after=1,
        ends_with_thanks=True,
    ),
    "6": Script(
        "warranty",
        "FREE_TEXT",
        "Garantía del producto",
        (
            (
                CUSTOMER,
                _CS,
                "Buenas tardes, compré el {product} hace unos meses y ha dejado de "
                "funcionar de repente. ¿Cómo tramito la garantía?",
                None,
            ),
            (
                SHOP,
                _SC,
                "Hola {name}, sentimos la avería. Como han pasado más de 30 días desde "
                "la entrega, puedes elegir: gestionamos nosotros la garantía con el fabricante, "
                "sin coste de envío para ti, o te damos todos los datos para tramitarla "
                "directamente con él, que a veces es más rápido. ¿Qué prefieres?",
                None,
            ),
            (CUSTOMER, _CS, "Prefiero que lo gestionéis vosotros, por favor.", None),
            (
                SHOP,
                _SC,
                "De acuerdo. Mañana pasará {carrier} a recogerlo sin coste. Te "
                "avisaremos cuando lo recibamos, cuando esté en el fabricante y cuando te lo "
                "enviemos de vuelta con su seguimiento.",
                None,
            ),
            (
                SHOP,
                _SC,
                "Hemos recibido el artículo y ya está en el servicio técnico del "
                "fabricante. Te escribimos en cuanto tengamos el diagnóstico.",
                None,
            ),
            (CUSTOMER, _CS, "Gracias por mantenerme informado.", None),
        ),
        incident_after=1,
        ends_with_thanks=True,
    ),
}

OTHER_SCRIPTS: dict[str, Script] = {
    "delivery": Script(
        "delivery",
        "FREE_TEXT",
        "Pregunta acerca de mi pedido",
        (
            (CUSTOMER, _CS, "Hola, hice el pedido {order_id} hace unos días y todavía no "
             "tengo noticias del envío. ¿Cuándo llegará?", None),
            (SHOP, _SC, "Hola {name}, gracias por escribirnos. Tu pedido salió con {carrier} "
             "y el número de seguimiento es {tracking}. Debería llegarte en 24-48 horas "
             "laborables.", None),
            (CUSTOMER, _CS, "Perfecto, muchas gracias por la rapidez.", None),
        ),
        ends_with_thanks=True,
    ),
    "preparing": Script(
        "preparing",
        "FREE_TEXT",
        "Pregunta acerca de mi pedido",
        (
            (CUSTOMER, _CS, "Hola, ¿cuándo enviaréis el pedido {order_id}? Lo necesito antes "
             "del fin de semana.", None),
            (SHOP, _SC, "Hola {name}, tu pedido está en preparación y sale hoy mismo. En cuanto "
             "lo entreguemos a la agencia recibirás el número de seguimiento por correo.", None),
            (CUSTOMER, _CS, "Genial, gracias.", None),
        ),
        ends_with_thanks=True,
    ),
    "shipping_info": Script(
        "shipping_info",
        "REASON_CODE",
        "20",
        (
            (CUSTOMER, _CS, "Buenos días, ¿podéis cambiar la dirección de entrega del pedido "
             "{order_id}? Esta semana estaré fuera de casa.", None),
            (SHOP, _SC, "Hola {name}, el pedido ya está en manos de {carrier}. Con el "
             "seguimiento {tracking} puedes elegir otra dirección o un punto de recogida "
             "desde su web.", None),
            (CUSTOMER, _CS, "Hecho, lo he cambiado a un punto de recogida. ¡Gracias!", None),
        ),
        ends_with_thanks=True,
    ),
    "invoice": Script(
        "invoice",
        "FREE_TEXT",
        "Solicitud de factura",
        (
            (CUSTOMER, _CS, "Hola, necesito la factura del pedido {order_id} a nombre de mi "
             "empresa. ¿Me la podéis enviar?", None),
            (SHOP, _SC, "Hola {name}, te adjuntamos la factura del pedido. Si necesitas "
             "cambiar algún dato fiscal, dínoslo y la emitimos de nuevo.", "invoice"),
            (CUSTOMER, _CS, "Recibida, gracias.", None),
        ),
        ends_with_thanks=True,
    ),
    "cancel": Script(
        "cancel",
        "REASON_CODE",
        "23",
        (
            (CUSTOMER, _CS, "Hola, me he equivocado de modelo. ¿Podéis cancelar el pedido "
             "{order_id} antes de que salga?", None),
            (SHOP, _SC, "Hola {name}, lo revisamos ahora mismo. Si el pedido aún no ha salido "
             "lo cancelamos y el reembolso llegará a tu método de pago en unos días.", None),
        ),
    ),
    "operator_query": Script(
        "operator_query",
        "FREE_TEXT",
        "Consulta del operador sobre el pedido",
        (
            (OPERATOR, (SHOP,), "Estimado vendedor, el cliente nos indica que no tiene "
             "información del envío del pedido {order_id}. Por favor, actualice el "
             "seguimiento y responda al cliente lo antes posible.", None),
            (SHOP, _SO, "Buenos días, el pedido salió con {carrier} ({tracking}). Ya hemos "
             "informado al cliente. Gracias.", None),
        ),
    ),
    "shop_notice": Script(
        "shop_notice",
        "REASON_CODE",
        "25",
        (
            (SHOP, _SC, "Hola {name}, te escribimos para avisarte de que tu pedido {order_id} "
             "saldrá con un día de retraso por una incidencia con el proveedor. Disculpa las "
             "molestias.", None),
            (CUSTOMER, _CS, "Vale, gracias por avisar.", None),
        ),
        ends_with_thanks=True,
    ),
}  # fmt: skip

# Bodies for the very long threads (more than 100 messages), cycled by party.
LONG_THREAD_FILLERS: dict[str, tuple[str, ...]] = {
    CUSTOMER: (
        "Buenos días, ¿hay alguna novedad sobre mi caso?",
        "Sigo sin noticias del {product}, ¿podéis revisarlo?",
        "¿Sabéis ya algo del servicio técnico?",
        "Os escribo de nuevo porque sigo esperando una respuesta.",
        "¿Me podéis dar una fecha aproximada, por favor?",
    ),
    SHOP: (
        "Hola {name}, seguimos a la espera de la respuesta del fabricante. Te avisamos en "
        "cuanto sepamos algo.",
        "Hemos vuelto a reclamar al servicio técnico; nos indican que el diagnóstico estará "
        "esta semana.",
        "Disculpa la espera, {name}. El fabricante ha pedido una prueba más y nos ha "
        "confirmado que la tendrá en unos días.",
        "Te confirmamos que el caso sigue abierto con el fabricante y lo revisamos a diario.",
    ),
    OPERATOR: (
        "Estimado vendedor, el cliente sigue esperando una respuesta. Por favor, actualice el "
        "estado del caso.",
        "Estimado vendedor, le recordamos que debe mantener informado al cliente en cada paso "
        "de la garantía.",
    ),
}
