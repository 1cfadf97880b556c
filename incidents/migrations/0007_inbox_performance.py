from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_audit_log")]

    operations = []
