"""The canned reply for a warranty within 30 days of delivery (the shop handles it).

PcComponentes' guide ("Incidencias de garantía"): within 30 days of the delivery the shop
handles the warranty itself; the reply for after 30 days (two options) is seeded by
``0002_canned_replies``. The incident page names the one that matches.
"""

from django.db import migrations

TITLE = "Garantía (30 días o menos)"
BODY = (
    "Hola {customer_name}, sentimos que el artículo del pedido {order_number} esté dando "
    "problemas. Como no han pasado 30 días desde la entrega, nos encargamos nosotros de la "
    "garantía: organizamos la recogida sin coste para ti y te informamos en cada paso, "
    "cuando lo recibamos, cómo avanza y el nuevo número de seguimiento cuando te lo "
    "enviemos. Un saludo."
)


def add_reply(apps, schema_editor):
    CannedReply = apps.get_model("messaging", "CannedReply")
    CannedReply.objects.get_or_create(title=TITLE, defaults={"body": BODY, "position": 35})


def remove_reply(apps, schema_editor):
    CannedReply = apps.get_model("messaging", "CannedReply")
    CannedReply.objects.filter(title=TITLE).delete()


class Migration(migrations.Migration):
    dependencies = [("messaging", "0002_canned_replies")]

    operations = [migrations.RunPython(add_reply, remove_reply)]
