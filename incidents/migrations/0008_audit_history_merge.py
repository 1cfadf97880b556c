from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_inbox_performance")]

    operations = []
