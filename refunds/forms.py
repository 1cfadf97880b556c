"""Forms of the refunds UI: full refund, partial (detailed) refund, rejecting a request.

The forms only parse what the agent typed; every business rule (what is left on a line,
which tax codes apply, approval limits) is the service's, whose errors are mapped back
onto the fields with ``apply_service_errors``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.form_rendering import WIDGET_RENDERER
from refunds.guides import refund_line_proposal
from refunds.rules import LineRemainder, RefundLineInput
from refunds.selectors import remainder_refundable

__all__ = ["FullRefundForm", "LineFields", "PartialRefundForm", "RejectForm"]

ZERO = Decimal("0.00")


def _money_field(label: Any) -> forms.DecimalField:
    """An amount in EUR: two decimals at most, never negative, Spanish comma accepted."""
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=ZERO,
        max_digits=12,
        decimal_places=2,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


class _RefundForm(forms.Form):
    """A reason from the marketplace's REFUND list, and the keys of a safe resubmit."""

    default_renderer = WIDGET_RENDERER

    reason_code = forms.ChoiceField(label=_("Reason"))
    #: Generated when the form is first shown: a double click or a resubmitted form
    #: carries the same key, and the service creates one request per key.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    #: Set once the summary with the exact total was shown.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    #: The total the agent saw; if it changed meanwhile the summary is shown again.
    expected_total = forms.DecimalField(
        required=False, max_digits=12, decimal_places=2, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, reasons: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason_code"].choices = [("", _("— choose a reason —")), *reasons]
        self._reason_labels = dict(reasons)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4())

    @property
    def reason_label(self) -> str:
        code = self.cleaned_data.get("reason_code", "")
        return self._reason_labels.get(code, code)

    def _field_for(self, line_id: int | None, key: str) -> str | None:
        if key == "reason_code":
            return "reason_code"
        return None

    def apply_service_errors(self, errors: dict[tuple[int | None, str], list[str]]) -> None:
        """``RefundValidationError.errors`` onto the fields they are about (the rest on
        the form), with the service's exact messages."""
        for (line_id, key), messages in errors.items():
            self.add_error(self._field_for(line_id, key), list(messages))

    def confirm_step(self, total: Decimal) -> None:
        """Turn the bound form into the confirmation step: same values, ``confirmed`` set
        and the total shown to the agent recorded."""
        data = self.data.copy()
        data[self.add_prefix("confirmed")] = "on"
        data[self.add_prefix("expected_total")] = str(total)
        self.data = data
        self._errors = None
        self.full_clean()


class FullRefundForm(_RefundForm):
    """A full refund: every line's whole remainder, one reason."""


@dataclass(frozen=True, slots=True)
class LineFields:
    """The inputs of one line in the partial refund form (bound fields)."""

    remainder: LineRemainder
    quantity: forms.BoundField
    amount: forms.BoundField
    shipping_amount: forms.BoundField
    taxes: list[tuple[str, Decimal, forms.BoundField]]
    shipping_taxes: list[tuple[str, Decimal, forms.BoundField]]
    line_errors: list[str]

    @property
    def line(self) -> Any:
        return self.remainder.line

    @property
    def errors(self) -> bool:
        fields = [self.quantity, self.amount, self.shipping_amount]
        fields += [bf for _code, _left, bf in self.taxes + self.shipping_taxes]
        return any(bf.errors for bf in fields)


class PartialRefundForm(_RefundForm):
    """A detailed refund: per line, quantity, product amount and each of its taxes,
    shipping amount and each of its shipping taxes; one reason for all of them.

    Only lines with something left that Mirakl would refund get inputs. Field names carry the line's
    pk (``l12-amount``, ``l12-tax-0``), taxes by position; ``_names`` maps the service's
    ``(line_id, "tax:<code>")`` keys back to them.
    """

    def __init__(
        self,
        *args: Any,
        remainders: dict[int, LineRemainder],
        reasons: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, reasons=reasons, **kwargs)
        self._names: dict[tuple[int, str], str] = {}
        #: Service errors about a whole line, by line pk.
        self.line_errors: dict[int, list[str]] = {}
        self._remainders = [r for r in remainders.values() if remainder_refundable(r)]
        for remainder in self._remainders:
            pk = remainder.line.pk
            quantity = forms.IntegerField(
                label=_("Quantity"),
                required=False,
                min_value=0,
                widget=forms.NumberInput(attrs={"min": 0, "max": remainder.quantity}),
            )
            self._add(pk, "quantity", quantity)
            self._add(pk, "amount", _money_field(_("Product amount")))
            for i, code in enumerate(remainder.taxes):
                self._add(pk, f"tax:{code}", _money_field(code), name=f"l{pk}-tax-{i}")
            self._add(pk, "shipping_amount", _money_field(_("Shipping amount")))
            for i, code in enumerate(remainder.shipping_taxes):
                self._add(
                    pk, f"shipping_tax:{code}", _money_field(code), name=f"l{pk}-shipping_tax-{i}"
                )

    def _add(self, pk: int, key: str, field: forms.Field, *, name: str | None = None) -> None:
        name = name or f"l{pk}-{key}"
        self.fields[name] = field
        self._names[(pk, key)] = name

    def _field_for(self, line_id: int | None, key: str) -> str | None:
        if line_id is not None and (line_id, key) in self._names:
            return self._names[(line_id, key)]
        return super()._field_for(line_id, key)

    def apply_service_errors(self, errors: dict[tuple[int | None, str], list[str]]) -> None:
        """Errors about a whole line (its state, a duplicate) go to that line's box."""
        shown = {r.line.pk for r in self._remainders}
        rest = {}
        for (line_id, key), messages in errors.items():
            if line_id in shown and (line_id, key) not in self._names:
                self.line_errors.setdefault(line_id, []).extend(messages)
            else:
                rest[(line_id, key)] = messages
        super().apply_service_errors(rest)

    @property
    def line_fields(self) -> list[LineFields]:
        """Per line, its bound inputs with what is left (for the template)."""
        groups = []
        for r in self._remainders:
            pk = r.line.pk
            groups.append(
                LineFields(
                    remainder=r,
                    quantity=self[self._names[(pk, "quantity")]],
                    amount=self[self._names[(pk, "amount")]],
                    shipping_amount=self[self._names[(pk, "shipping_amount")]],
                    taxes=[
                        (code, left, self[self._names[(pk, f"tax:{code}")]])
                        for code, left in r.taxes.items()
                    ],
                    shipping_taxes=[
                        (code, left, self[self._names[(pk, f"shipping_tax:{code}")]])
                        for code, left in r.shipping_taxes.items()
                    ],
                    line_errors=self.line_errors.get(pk, []),
                )
            )
        return groups

    def proposal_initial(self, data: Any, *, line: str) -> dict[str, Any]:
        """What the form shows after "propose" (``line``: a line pk, or ``all``): the values
        typed, with each line's amount and taxes proposed from its quantity
        (:func:`refunds.guides.refund_line_proposal`). For one line its amount and taxes
        are replaced; for ``all``, only lines with a quantity and no amount yet."""
        initial: dict[str, Any] = {
            key: data.get(key) for key in data if key != "csrfmiddlewaretoken"
        }
        for r in self._remainders:
            pk = r.line.pk
            if line != "all" and line != str(pk):
                continue
            try:
                quantity = int(str(data.get(self._names[(pk, "quantity")]) or 0))
            except ValueError:
                continue
            if line == "all" and (not quantity or data.get(self._names[(pk, "amount")])):
                continue
            proposal = refund_line_proposal(r, quantity)
            initial[self._names[(pk, "quantity")]] = proposal.quantity
            initial[self._names[(pk, "amount")]] = proposal.amount if proposal.quantity else None
            for code in r.taxes:
                initial[self._names[(pk, f"tax:{code}")]] = proposal.taxes.get(code)
        return initial

    def _value(self, pk: int, key: str) -> Any:
        return self.cleaned_data.get(self._names[(pk, key)])

    def refund_lines(self) -> list[RefundLineInput]:
        """What to refund, one input per line where anything was entered (valid form)."""
        lines = []
        for r in self._remainders:
            pk = r.line.pk
            taxes = {code: self._value(pk, f"tax:{code}") for code in r.taxes}
            shipping_taxes = {
                code: self._value(pk, f"shipping_tax:{code}") for code in r.shipping_taxes
            }
            quantity = self._value(pk, "quantity") or 0
            amount = self._value(pk, "amount")
            shipping_amount = self._value(pk, "shipping_amount")
            entered = [amount, shipping_amount, *taxes.values(), *shipping_taxes.values()]
            if not quantity and not any(entered):
                continue
            lines.append(
                RefundLineInput(
                    line_id=pk,
                    quantity=quantity,
                    amount=amount or ZERO,
                    shipping_amount=shipping_amount or ZERO,
                    taxes={c: v for c, v in taxes.items() if v},
                    shipping_taxes={c: v for c, v in shipping_taxes.items() if v},
                )
            )
        return lines

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not self.errors and not self.refund_lines():
            raise forms.ValidationError(
                _("Enter what to refund on at least one line."), code="empty"
            )
        return data


class RejectForm(forms.Form):
    """Why the second person does not approve a refund (kept in the audit log)."""

    default_renderer = WIDGET_RENDERER

    reason = forms.CharField(
        label=_("Why not"),
        max_length=500,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "placeholder": _("e.g. the customer already got a voucher"),
                "aria-label": _("Why not"),
            }
        ),
    )
