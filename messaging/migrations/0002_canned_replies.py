"""Five canned replies in Spanish, following the marketplaces' quality rules.

Friendly, short, personalised with the order's data, never asking a withdrawal customer
why they return the item nor for photos; agents edit them before sending.
"""

from django.db import migrations

CANNED_REPLIES = [
    (
        "Seguimiento del envío",
        "Hola {customer_name}, tu pedido {order_number} viaja con {carrier}. Puedes ver en "
        "qué punto está con el número de seguimiento {tracking}. Si en 48 horas no ves "
        "novedades, escríbenos y abrimos una reclamación con el transportista para "
        "localizarlo. Un saludo.",
    ),
    (
        "Desistimiento: recogida gratuita",
        "Hola {customer_name}, hemos registrado la devolución del pedido {order_number}. "
        "La recogida es gratuita: el transportista te contactará en los próximos días para "
        "acordarla. En cuanto recibamos el artículo te reembolsamos el importe completo, "
        "gastos de envío iniciales incluidos. Un saludo.",
    ),
    (
        "Artículo defectuoso: sustitución",
        "Hola {customer_name}, sentimos mucho que el artículo del pedido {order_number} "
        "haya llegado con un defecto. Te enviamos una unidad nueva y, a la vez, organizamos "
        "la recogida gratuita de la defectuosa. Te escribimos con el nuevo número de "
        "seguimiento en cuanto salga. Un saludo.",
    ),
    (
        "Garantía (más de 30 días)",
        "Hola {customer_name}, como han pasado más de 30 días desde la entrega del pedido "
        "{order_number}, tienes dos opciones: 1) nosotros gestionamos la reparación con el "
        "fabricante, sin coste de envío para ti, y te informamos en cada paso; 2) la "
        "tramitas directamente con el fabricante, y te facilitamos todos sus datos de "
        "contacto. Dinos qué prefieres. Un saludo.",
    ),
    (
        "Reenvío con nuevo seguimiento",
        "Hola {customer_name}, te hemos enviado de nuevo el pedido {order_number} con "
        "{carrier}. El nuevo número de seguimiento es {tracking}. Sentimos las molestias; "
        "quedamos atentos a que lo recibas sin problema. Un saludo.",
    ),
]


def add_canned_replies(apps, schema_editor):
    CannedReply = apps.get_model("messaging", "CannedReply")
    for position, (title, body) in enumerate(CANNED_REPLIES, start=1):
        CannedReply.objects.get_or_create(
            title=title, defaults={"body": body, "position": position * 10}
        )


def remove_canned_replies(apps, schema_editor):
    CannedReply = apps.get_model("messaging", "CannedReply")
    CannedReply.objects.filter(title__in=[title for title, _ in CANNED_REPLIES]).delete()


class Migration(migrations.Migration):
    dependencies = [("messaging", "0001_initial")]

    operations = [migrations.RunPython(add_canned_replies, remove_canned_replies)]
