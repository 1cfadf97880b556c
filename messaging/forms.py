"""Forms of the reply box: reply, start a conversation, "no reply required"."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from core.form_rendering import WIDGET_RENDERER
from core.forms import own_field, share_fields
from core.validators import ALLOWED_UPLOAD_TYPES, validate_upload
from messaging.constants import (
    MAX_ATTACHMENTS,
    MAX_ATTACHMENTS_PER_FILE_LIMITS,
    RECIPIENT_HELP,
    RecipientChoice,
)
from messaging.services import AttachmentUpload

__all__ = ["NewThreadForm", "NoReplyForm", "ReplyForm"]

_ACCEPT = ",".join(f".{ext}" for ext in ALLOWED_UPLOAD_TYPES)


def _help() -> str:
    return _("Up to %(n)d files of %(size)s each (PDF, images, office documents).") % {
        "n": MAX_ATTACHMENTS,
        "size": filesizeformat(settings.UPLOAD_MAX_BYTES),
    }


#: Read when shown: ``UPLOAD_MAX_BYTES`` is a setting.
_attachments_help = lazy(_help, str)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several files, each checked by :func:`core.validators.validate_upload` (size
    from ``UPLOAD_MAX_BYTES``, type by name and content, safe name), and all of them
    together against twice that size."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", _attachments_help())
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("accept", _ACCEPT)

    def clean(self, data: Any, initial: Any = None) -> list[AttachmentUpload]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        files = [f for f in files if f]
        errors: list[str] = []
        if len(files) > MAX_ATTACHMENTS:
            errors.append(
                _("At most %(n)d files per message (you chose %(count)d).")
                % {"n": MAX_ATTACHMENTS, "count": len(files)}
            )
        uploads: list[AttachmentUpload] = []
        for file in files:
            try:
                checked = validate_upload(file)
            except ValidationError as exc:
                errors.extend(exc.messages)
                continue
            uploads.append(AttachmentUpload(checked.name, checked.content_type, file.read()))
        total = sum(len(upload.content) for upload in uploads)
        limit = MAX_ATTACHMENTS_PER_FILE_LIMITS * settings.UPLOAD_MAX_BYTES
        if total > limit:
            errors.append(
                _("The files add up to %(size)s; the limit is %(max)s per message.")
                % {"size": filesizeformat(total), "max": filesizeformat(limit)}
            )
        if errors:
            raise forms.ValidationError(errors)
        return uploads


class RecipientSelect(forms.RadioSelect):
    """Radio buttons, each with its one-line explanation."""

    option_template_name = "messaging/widgets/recipient_option.html"

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["help"] = RECIPIENT_HELP.get(str(value), "")
        return option


class _MessageForm(forms.Form):
    default_renderer = WIDGET_RENDERER

    recipient = forms.ChoiceField(
        label=_("To"), choices=RecipientChoice.choices, widget=RecipientSelect
    )
    body = forms.CharField(
        label=_("Message"),
        strip=True,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    attachments = AttachmentsField(label=_("Attachments"))
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    #: Set by "Send anyway" once the warnings were shown.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4())


class ReplyForm(_MessageForm):
    """A reply in an existing thread (M12)."""

    #: The thread's last message when the form was shown: a newer one means the agent
    #: has not read everything yet.
    last_message_id = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, customer_allowed: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not customer_allowed:
            own_field(self, "recipient").choices = [
                (RecipientChoice.OPERATOR, RecipientChoice.OPERATOR.label)
            ]


class NewThreadForm(_MessageForm):
    """A new conversation on the order (OR43): a subject from the marketplace's list or free."""

    reason = forms.ChoiceField(
        label=_("Subject"),
        required=False,
        error_messages={"invalid_choice": _("Choose a subject from the marketplace's list.")},
    )
    subject = forms.CharField(
        label=_("Or write a subject"), required=False, max_length=255, strip=True
    )

    def __init__(self, *args: Any, reasons: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", _("— choose —")), *reasons]
        # The customer chosen first, as the form's initial value rather than its field's.
        self.initial.setdefault("recipient", RecipientChoice.CUSTOMER)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("reason") and not data.get("subject"):
            self.add_error("subject", _("Choose a subject or write one."))
        return data

    def topic(self) -> tuple[str, str]:
        """(``REASON_CODE``, code) or (``FREE_TEXT``, subject) for OR43."""
        if self.cleaned_data.get("reason"):
            return "REASON_CODE", self.cleaned_data["reason"]
        return "FREE_TEXT", self.cleaned_data["subject"]


class NoReplyForm(forms.Form):
    """Why this conversation needs no answer."""

    default_renderer = WIDGET_RENDERER

    reason = forms.CharField(
        label=_("Why no reply is required"),
        max_length=500,
        strip=True,
        widget=forms.TextInput(
            attrs={"placeholder": _("e.g. the customer confirms it is solved and says thanks")}
        ),
    )
    #: Set by "Mark anyway" once the warning on an unresolved incident was shown.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


# What each form alters of its fields: the subjects offered; a reply's recipients only
# in a thread the customer is not part of (that form copies its field then).
share_fields(ReplyForm, own=frozenset())
share_fields(NewThreadForm, own=frozenset({"reason"}))
share_fields(NoReplyForm, own=frozenset())
