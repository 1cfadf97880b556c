"""A guard in the database: a refund request line never asks for more than is left.

``refunds.services.refund_request_create`` validates against what is left with the order
row locked; this trigger holds the same rule for any other writer (a script, the shell,
a future code path). On insert it locks the order line, adds up the synced refunds and
the requests that still count (not refused, rejected or confirmed, and not already seen
as a synced refund), and refuses the row if the amount or the shipping amount would go
beyond the line's price. PostgreSQL only; the embedded SQLite demo relies on the service.
"""

from django.db import migrations

#: ``%%`` is a literal ``%`` once Django has passed the SQL through the driver.
GUARD_SQL = """
CREATE OR REPLACE FUNCTION refunds_request_line_within_remainder() RETURNS trigger AS $$
DECLARE
    line_price numeric;
    line_shipping numeric;
    used numeric;
    used_shipping numeric;
BEGIN
    SELECT price, shipping_price INTO line_price, line_shipping
        FROM core_orderline WHERE id = NEW.line_id FOR UPDATE;
    SELECT COALESCE(SUM(amount), 0), COALESCE(SUM(shipping_amount), 0)
        INTO used, used_shipping
        FROM refunds_refund WHERE line_id = NEW.line_id;
    SELECT used + COALESCE(SUM(l.amount), 0), used_shipping + COALESCE(SUM(l.shipping_amount), 0)
        INTO used, used_shipping
        FROM refunds_refundrequestline l
        JOIN refunds_refundrequest q ON q.id = l.request_id
        WHERE l.line_id = NEW.line_id
          AND q.state NOT IN ('refused', 'rejected', 'confirmed')
          AND NOT (l.mirakl_refund_id <> '' AND EXISTS (
              SELECT 1 FROM refunds_refund r
              WHERE r.line_id = l.line_id AND r.mirakl_id = l.mirakl_refund_id));
    IF used + NEW.amount > line_price OR used_shipping + NEW.shipping_amount > line_shipping THEN
        RAISE EXCEPTION 'refund of order line %% exceeds what is left to refund', NEW.line_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS refunds_request_line_within_remainder ON refunds_refundrequestline;
CREATE TRIGGER refunds_request_line_within_remainder
    BEFORE INSERT ON refunds_refundrequestline
    FOR EACH ROW EXECUTE FUNCTION refunds_request_line_within_remainder();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS refunds_request_line_within_remainder ON refunds_refundrequestline;
DROP FUNCTION IF EXISTS refunds_request_line_within_remainder();
"""


def add_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD_SQL)


def drop_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("refunds", "0001_initial")]

    operations = [migrations.RunPython(add_guard, drop_guard)]
