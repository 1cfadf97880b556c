"""The reply box's forms share their class's fields, except those each form alters."""

from __future__ import annotations

from messaging.constants import RecipientChoice
from messaging.forms import NewThreadForm, NoReplyForm, ReplyForm


def test_forms_share_the_fields_they_only_read() -> None:
    one, other = ReplyForm(prefix="a"), ReplyForm(prefix="b", customer_allowed=False)
    assert one.fields["body"] is other.fields["body"] is ReplyForm.base_fields["body"]
    assert NoReplyForm().fields["reason"] is NoReplyForm().fields["reason"]
    # The customer left out of one form's recipients only, on a field of its own.
    assert one.fields["recipient"] is ReplyForm.base_fields["recipient"]
    assert other.fields["recipient"] is not ReplyForm.base_fields["recipient"]
    assert [value for value, _ in other.fields["recipient"].choices] == [RecipientChoice.OPERATOR]
    assert len(one.fields["recipient"].choices) == len(RecipientChoice.choices)
    assert len(ReplyForm.base_fields["recipient"].choices) == len(RecipientChoice.choices)


def test_a_new_conversations_subjects_are_its_own() -> None:
    first = NewThreadForm(reasons=[("22", "Retraso")])
    second = NewThreadForm(reasons=[("7", "Otro")])
    assert [v for v, _ in first.fields["reason"].choices] == ["", "22"]
    assert [v for v, _ in second.fields["reason"].choices] == ["", "7"]
    assert NewThreadForm.base_fields["recipient"].initial is None
    assert first["recipient"].initial == RecipientChoice.CUSTOMER
    assert first.fields["recipient"] is second.fields["recipient"]
    chosen = NewThreadForm(initial={"recipient": RecipientChoice.OPERATOR})
    assert chosen["recipient"].initial == RecipientChoice.OPERATOR


def test_a_form_sent_validates_as_before() -> None:
    form = ReplyForm(
        {"r-recipient": RecipientChoice.CUSTOMER, "r-body": "  Hola  ", "r-idempotency_key": "x"},
        prefix="r",
    )
    assert not form.is_valid()
    assert set(form.errors) == {"idempotency_key"}
    assert form.cleaned_data["body"] == "Hola"
    assert ReplyForm(prefix="s").errors == {}
