import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0006_audit_log"),
        ("refunds", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="RefundRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("full", "Full refund"), ("partial", "Partial refund")], max_length=10, verbose_name="kind")),
                ("reason_code", models.CharField(max_length=64, verbose_name="reason code")),
                ("reason_label", models.CharField(blank=True, max_length=255, verbose_name="reason")),
                ("idempotency_key", models.CharField(max_length=255, verbose_name="idempotency key")),
                ("fingerprint", models.CharField(editable=False, max_length=64)),
                ("state", models.CharField(choices=[("awaiting_approval", "Awaiting approval"), ("queued", "Queued"), ("sending", "Sending"), ("in_doubt", "Outcome unknown, checking"), ("sent", "Accepted by Mirakl"), ("confirmed", "Confirmed by Mirakl"), ("refused", "Refused by Mirakl"), ("rejected", "Rejected by the approver")], max_length=20, verbose_name="state")),
                ("total", models.DecimalField(decimal_places=2, max_digits=12, verbose_name="total")),
                ("source", models.CharField(default="user", max_length=10, verbose_name="source")),
                ("approved_at", models.DateTimeField(blank=True, null=True, verbose_name="approved or rejected")),
                ("rejection_reason", models.TextField(blank=True, verbose_name="rejection reason")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="requested")),
                ("attempts", models.PositiveIntegerField(default=0, verbose_name="attempts")),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True, verbose_name="last attempt")),
                ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="sent")),
                ("confirmed_at", models.DateTimeField(blank=True, null=True, verbose_name="confirmed")),
                ("error_message", models.TextField(blank=True, verbose_name="Mirakl message")),
                ("approved_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="approved or rejected by")),
                ("connection", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="refund_requests", to="incidents.marketplaceconnection", verbose_name="marketplace")),
                ("incident", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="refund_requests", to="incidents.incident", verbose_name="incident")),
                ("order", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="refund_requests", to="incidents.order", verbose_name="order")),
                ("requested_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="requested by")),
            ],
            options={
                "verbose_name": "refund request",
                "verbose_name_plural": "refund requests",
                "ordering": ("-created_at", "-pk"),
                "indexes": [
                    models.Index(condition=models.Q(("state__in", ("queued", "sending", "in_doubt"))), fields=["created_at"], name="refundrequest_pending_idx"),
                    models.Index(fields=["order", "state"], name="refundrequest_order_state_idx"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("connection", "idempotency_key"), name="refunds_refundrequest_unique_connection_key"),
                    models.CheckConstraint(condition=models.Q(("total__gt", 0)), name="refunds_refundrequest_total_positive"),
                    models.CheckConstraint(condition=models.Q(("idempotency_key", ""), _negated=True), name="refunds_refundrequest_key_not_blank"),
                ],
            },
        ),
        migrations.CreateModel(
            name="RefundRequestLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("quantity", models.PositiveIntegerField(default=0, verbose_name="quantity")),
                ("amount", models.DecimalField(decimal_places=2, max_digits=12, verbose_name="amount")),
                ("shipping_amount", models.DecimalField(decimal_places=2, default=0, max_digits=12, verbose_name="shipping amount")),
                ("taxes", models.JSONField(blank=True, default=dict, verbose_name="taxes")),
                ("shipping_taxes", models.JSONField(blank=True, default=dict, verbose_name="shipping taxes")),
                ("mirakl_refund_id", models.CharField(blank=True, max_length=64, verbose_name="Mirakl refund id")),
                ("line", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="refund_request_lines", to="incidents.orderline", verbose_name="order line")),
                ("request", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="lines", to="refunds.refundrequest")),
            ],
            options={
                "verbose_name": "refund request line",
                "verbose_name_plural": "refund request lines",
                "ordering": ("request", "pk"),
                "indexes": [
                    models.Index(condition=models.Q(("mirakl_refund_id", ""), _negated=True), fields=["mirakl_refund_id"], name="refundrequestline_mirakl_idx"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("request", "line"), name="refunds_refundrequestline_unique_request_line"),
                    models.CheckConstraint(condition=models.Q(("amount__gte", 0), ("shipping_amount__gte", 0)), name="refunds_refundrequestline_amounts_not_negative"),
                    models.CheckConstraint(condition=models.Q(("amount__gt", 0), ("shipping_amount__gt", 0), _connector="OR"), name="refunds_refundrequestline_something_to_refund"),
                ],
            },
        ),
        migrations.CreateModel(
            name="RefundLimit",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("limit", models.DecimalField(blank=True, decimal_places=2, help_text="Leave blank for no limit.", max_digits=12, null=True, verbose_name="limit (EUR)")),
                ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="refund_limit", to=settings.AUTH_USER_MODEL, verbose_name="user")),
            ],
            options={
                "verbose_name": "refund limit",
                "verbose_name_plural": "refund limits",
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("limit__isnull", True), ("limit__gte", 0), _connector="OR"), name="refunds_refundlimit_limit_not_negative"),
                ],
            },
        ),
    ]
