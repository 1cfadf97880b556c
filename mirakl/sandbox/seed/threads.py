"""Threads and incidents of the data set: conversations played from the scripts of
:mod:`mirakl.sandbox.conversations`, and the incident histories of lines."""

from __future__ import annotations

from mirakl.sandbox.conversations import (
    CONTEST_BODY,
    INCIDENT_OPENED_BODY,
    INCIDENT_SCRIPTS,
    LONG_THREAD_FILLERS,
    Script,
    Step,
)
from mirakl.sandbox.models import (
    Attachment,
    Incident,
    Line,
    Message,
    Order,
    Participant,
    Thread,
)
from mirakl.sandbox.reasons import INCIDENT_OPEN, reason_label
from mirakl.sandbox.samples import sample_for
from mirakl.sandbox.seed.base import DAY, HOUR, MINUTE, Plan
from mirakl.sandbox.seed.orders import OrderBuilder

__all__ = ["ThreadBuilder"]


class ThreadBuilder(OrderBuilder):
    """Opens and closes incidents on lines, and plays threads with their messages."""

    auto_close_ms: int
    threads: list[Thread]
    attachments: dict[str, Attachment]

    def uuid(self) -> str:
        return self.rng.uuid4()

    def threads_of(self, order: Order) -> list[Thread]:
        # Only used while seeding: the threads of an order were added last.
        found = []
        for thread in reversed(self.threads):
            if thread.order_id != order.order_id:
                break
            found.append(thread)
        return found

    @staticmethod
    def open_on_line(line: Line, reason: str, when: int, *, reopened: bool = False) -> Incident:
        incident = Incident(
            reason_code=reason, opened_ms=when, state_before=line.state, reopened=reopened
        )
        line.incidents.append(incident)
        line.state = "INCIDENT_OPEN"
        line.reason_code = reason
        line.reason_label = reason_label(INCIDENT_OPEN, reason)
        line.updated_ms = max(line.updated_ms, when)
        return incident

    @staticmethod
    def close_on_line(line: Line, incident: Incident, when: int, closed_by: str) -> None:
        incident.closed_ms = when
        incident.closed_by = closed_by
        incident.close_due_ms = None
        line.state = incident.state_before
        line.reason_code = None
        line.reason_label = None
        line.updated_ms = max(line.updated_ms, when)

    def _seed_open_incident(self, order: Order, line: Line, plan: Plan) -> None:
        rng = self.rng
        reason = plan.reason or "3"
        opened = plan.incident_ms
        incident = self.open_on_line(line, reason, opened)
        script = INCIDENT_SCRIPTS[reason]
        thread = self._new_thread(order, script)
        ctx = self._context(order, line, reason)
        start = self._incident_thread_start(thread, script, ctx, opened, plan.urgency)
        end = self.now - MINUTE
        post = list(script.steps[script.incident_after or 0 :])
        contested = False
        if plan.urgency == "long":
            self._play_long(thread, post, ctx, start, end)
        elif plan.urgency == "urgent":
            pass  # only the customer's message and the operator's notice: urgent
        else:
            draw = rng.random()
            if draw < 0.25:
                resolved = max(
                    opened + (self.now - opened) // 2,
                    self.now - rng.randint(0, max(1, self.auto_close_ms // 2)),
                )
                self._play(thread, post[:-1] or post, ctx, start, resolved - MINUTE)
                incident.resolved_ms = resolved
                incident.resolve_reason = _resolution_for(reason)
                incident.close_due_ms = resolved + self.auto_close_ms
            elif draw < 0.32 and len(post) >= 2:
                resolved = start + (end - start) // 2
                self._play(thread, post[:-1], ctx, start, resolved - MINUTE)
                incident.resolved_ms = resolved
                incident.resolve_reason = _resolution_for(reason)
                contest_at = resolved + (end - resolved) // 2
                incident.contested_ms.append(contest_at)
                body = CONTEST_BODY.format(**ctx)
                self._say(thread, "OPERATOR", ("SHOP",), body, contest_at)
                contested = True
            else:
                steps = rng.randint(0, len(post) - 1)
                if plan.urgency == "overdue" and rng.random() < 0.3:
                    steps = 0
                self._play(thread, post[:steps], ctx, start, end)
        if not contested and rng.random() < 0.12 and line.price > 0:
            when = opened + (self.now - opened) // 3
            self._partial_refund(line, when, "19")
        line.updated_ms = max(line.updated_ms, *(c for c in incident.contested_ms), opened)
        order.touch(max(line.updated_ms, incident.resolved_ms or 0))

    def _seed_closed_incident(self, order: Order, line: Line, plan: Plan) -> None:
        rng = self.rng
        reason = plan.reason or "3"
        opened = plan.incident_ms
        incident = self.open_on_line(line, reason, opened)
        incident.state_before = "RECEIVED"  # a CLOSED order was RECEIVED back then
        script = INCIDENT_SCRIPTS[reason]
        thread = self._new_thread(order, script)
        ctx = self._context(order, line, reason)
        start = self._incident_thread_start(thread, script, ctx, opened, "closed")
        post = list(script.steps[script.incident_after or 0 :])
        handled = opened + rng.randint(3 * DAY, 8 * DAY)
        last_message = self._play(thread, post, ctx, start, handled)
        if script.ends_with_thanks and rng.random() < 0.5:
            flagged = last_message + rng.randint(10 * MINUTE, 5 * HOUR)
            thread.no_store_reply_needed.append((flagged, "SHOP"))
            thread.shop_reply_needed_since = None
            thread.updated_ms = max(thread.updated_ms, flagged)
            thread.cache = None
        refund_at = last_message + rng.randint(HOUR, DAY)
        single_line = len(order.lines) == 1
        if reason in ("5", "1") and (reason == "5" or rng.random() < 0.5):
            self._refund_line_fully(line, refund_at, "17" if reason == "5" else "18")
            if single_line:
                self.close_on_line(line, incident, refund_at, "FULL_REFUND")
                line.state = order.state
                order.touch(line.updated_ms)
                return
        elif reason in ("2", "3", "4") and rng.random() < 0.3:
            self._partial_refund(line, refund_at, "19")
        incident.resolved_ms = refund_at + rng.randint(HOUR, 6 * HOUR)
        incident.resolve_reason = _resolution_for(reason)
        closed = incident.resolved_ms + rng.randint(2 * DAY, 5 * DAY)
        self.close_on_line(line, incident, closed, "AUTO_AFTER_RESOLUTION")
        line.state = order.state
        order.touch(line.updated_ms)

    def _seed_other_thread(self, order: Order, script: Script) -> None:
        rng = self.rng
        t_first = max(order.created_ms, (order.debited_ms or order.created_ms)) + rng.randint(
            10 * MINUTE, 20 * HOUR
        )
        end = self.now - MINUTE
        if t_first >= end - 10 * MINUTE:
            base = max(order.created_ms, order.debited_ms or order.created_ms)
            t_first = base + int((end - base) * (0.2 + 0.4 * rng.random()))
        thread = self._new_thread(order, script)
        ctx = self._context(order, order.lines[0], None)
        steps = list(script.steps)
        if rng.random() < 0.4:
            steps = steps[: rng.randint(1, len(steps))]
        first, rest = steps[0], steps[1:]
        self._say_step(thread, first, ctx, t_first)
        last = self._play(thread, rest, ctx, t_first, min(end, t_first + 6 * DAY))
        full = len(steps) == len(script.steps)
        if full and script.ends_with_thanks and rng.random() < 0.3:
            flagged = min(end, last + rng.randint(10 * MINUTE, 5 * HOUR))
            thread.no_store_reply_needed.append((flagged, "SHOP"))
            thread.shop_reply_needed_since = None
            thread.updated_ms = max(thread.updated_ms, flagged)
            thread.cache = None

    # ------------------------------------------------------------- threads
    def _new_thread(self, order: Order, script: Script) -> Thread:
        customer = order.customer
        thread = Thread(
            thread_id=self.uuid(),
            order_id=order.order_id,
            topic_type=script.topic_type,
            topic_value=script.topic_value,
            created_ms=0,
            updated_ms=0,
            customer=Participant("CUSTOMER", customer.display_name, customer.customer_id),
        )
        self.threads.append(thread)
        return thread

    def new_thread(
        self, order: Order, topic_type: str, topic_value: str, created_ms: int
    ) -> Thread:
        """A thread created live (OR43, control API); not registered anywhere."""
        customer = order.customer
        return Thread(
            thread_id=self.uuid(),
            order_id=order.order_id,
            topic_type=topic_type,
            topic_value=topic_value,
            created_ms=created_ms,
            updated_ms=created_ms,
            customer=Participant("CUSTOMER", customer.display_name, customer.customer_id),
        )

    def _context(self, order: Order, line: Line, reason: str | None) -> dict[str, str]:
        carrier = order.carrier
        tracking2 = self.rng.digits(12)
        return {
            "order_id": order.order_id,
            "name": order.customer.firstname,
            "product": line.product.title,
            "carrier": carrier.name if carrier else "la agencia de transporte",
            "tracking": order.tracking or "pendiente de asignar",
            "tracking2": (carrier.tracking_prefix if carrier else "") + tracking2,
            "reason": (reason_label(INCIDENT_OPEN, reason) or "") if reason else "",
        }

    def _incident_thread_start(
        self, thread: Thread, script: Script, ctx: dict[str, str], opened: int, urgency: str
    ) -> int:
        """Customer's first message(s) before the incident, then the operator's notice."""
        rng = self.rng
        pre = script.steps[: script.incident_after or 0]
        if pre and not (urgency == "urgent" and rng.random() < 0.3):
            first = opened - rng.randint(5 * MINUTE, 20 * HOUR)
            for offset, step in enumerate(pre):
                self._say_step(thread, step, ctx, first + offset * MINUTE)
        notice = INCIDENT_OPENED_BODY.format(**ctx)
        self._say(thread, "OPERATOR", ("SHOP",), notice, opened)
        return opened

    def _play(
        self, thread: Thread, steps: list[Step], ctx: dict[str, str], start: int, end: int
    ) -> int:
        """Spread ``steps`` between ``start`` and ``end``; returns the last message time."""
        if not steps:
            return thread.messages[-1].created_ms if thread.messages else start
        rng = self.rng
        gaps = [rng.randint(20 * MINUTE, 26 * HOUR) for _ in steps]
        span = max(end - start, len(steps) * 1000)
        scale = min(1.0, span * 0.95 / sum(gaps))
        moment = start
        for step, gap in zip(steps, gaps, strict=True):
            moment += max(1000, int(gap * scale))
            self._say_step(thread, step, ctx, moment)
        return moment

    def _play_long(
        self, thread: Thread, steps: list[Step], ctx: dict[str, str], start: int, end: int
    ) -> None:
        """A warranty saga of 110-170 messages ending with the customer waiting."""
        rng = self.rng
        total = rng.randint(110, 170) - len(thread.messages)
        pattern = ("SHOP", "CUSTOMER", "SHOP", "CUSTOMER", "OPERATOR", "SHOP", "CUSTOMER")
        sequence: list[Step] = list(steps[:3])
        while len(sequence) < total - 1:
            party = pattern[len(sequence) % len(pattern)]
            body = rng.choice(LONG_THREAD_FILLERS[party])
            to = ("CUSTOMER",) if party == "SHOP" else ("SHOP",)
            sequence.append((party, to, body, None))
        sequence.append(("CUSTOMER", ("SHOP",), LONG_THREAD_FILLERS["CUSTOMER"][3], None))
        step_ms = (end - start) // (len(sequence) + 1)
        moment = start
        for step in sequence:
            moment += max(1000, step_ms - rng.randint(0, step_ms // 3))
            self._say_step(thread, step, ctx, moment)

    def _say_step(self, thread: Thread, step: Step, ctx: dict[str, str], when: int) -> None:
        party, to, template, attachment_kind = step
        attachments: tuple[Attachment, ...] = ()
        if attachment_kind and self.rng.random() < 0.6:
            attachments = (self._attachment(attachment_kind, ctx),)
        self._say(thread, party, to, template.format(**ctx), when, attachments)

    def _say(
        self,
        thread: Thread,
        party: str,
        to: tuple[str, ...],
        body: str,
        when: int,
        attachments: tuple[Attachment, ...] = (),
    ) -> Message:
        message = Message(self.uuid(), when, party, body, to, attachments)
        if not thread.messages:
            thread.created_ms = when
        thread.append(message)
        return message

    def _attachment(self, kind: str, ctx: dict[str, str]) -> Attachment:
        content_type, data = sample_for(kind)
        if kind == "invoice":
            name = f"factura_{ctx['order_id']}.pdf"
        else:
            name = self.rng.choice(("foto_producto.png", "foto_embalaje.png", "captura.png"))
        attachment = Attachment(self.uuid(), name, content_type, data)
        self.attachments[attachment.attachment_id] = attachment
        return attachment


def _resolution_for(reason: str) -> str:
    return {
        "1": "INC_SOLVED_DELIVERED",
        "2": "INC_SOLVED_REPLACEMENT",
        "3": "INC_SOLVED_REPLACEMENT",
        "4": "INC_SOLVED_REPLACEMENT",
        "5": "INC_SOLVED_RETURN",
        "6": "INC_SOLVED_REPAIRED",
    }.get(reason, "INC_SOLVED_INFO")
