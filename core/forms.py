"""Forms of the bottom floor: a marketplace connection (admin), and fields a form class
shares with its forms (:func:`share_fields`)."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.models import MarketplaceConnection
from core.validators import api_key_for_host

__all__ = ["MarketplaceConnectionForm", "SharedFields", "own_field", "share_fields"]


class MarketplaceConnectionForm(forms.ModelForm):
    """The admin form of a connection: the API key can be set, never read back."""

    base_url = forms.URLField(
        label=_("Mirakl base URL"),
        assume_scheme="https",
        help_text=_("Instance root, e.g. https://pccomponentes-prod.mirakl.net"),
    )
    api_key = forms.CharField(
        label=_("Shop API key"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Stored encrypted and never shown again. Leave empty to keep the current key, "
            "except when the URL moves to another host."
        ),
    )

    class Meta:
        model = MarketplaceConnection
        fields = ("code", "name", "base_url", "api_key", "shop_id", "sla_policy", "is_active")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial.pop("api_key", None)
        if not self.instance.pk:
            self.fields["api_key"].required = True

    def clean_api_key(self) -> str:
        """A new key (visible ASCII only), or the stored one while the host is the same:
        moving the connection to another host needs the key again."""
        base_url = self.cleaned_data.get("base_url")
        if base_url is None:
            return self.cleaned_data["api_key"]  # the URL's own error is shown
        stored = self.instance.pk is not None
        try:
            return api_key_for_host(
                self.cleaned_data["api_key"],
                base_url=base_url,
                stored_key=self.instance.api_key if stored else None,
                stored_base_url=self.instance.base_url if stored else None,
            )
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc

    def clean_base_url(self) -> str:
        return self.cleaned_data["base_url"].rstrip("/")


class SharedFields(dict[str, forms.Field]):
    """A form class's fields, shared by its forms.

    Django deep-copies a form class's fields for every form (``BaseForm.__init__``),
    though the hot forms (the queue's filters, the reply boxes: several per page) only
    read them, to validate and to draw a box not drawn before. Only the fields in ``own``
    (those a form alters: its choices, its initial value) are copied for each form.
    """

    def __init__(self, fields: dict[str, forms.Field], *, own: frozenset[str]) -> None:
        super().__init__(fields)
        self.own = own

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, forms.Field]:
        return {
            name: copy.deepcopy(field, memo) if name in self.own else field
            for name, field in self.items()
        }


def share_fields(form_class: type[forms.Form], *, own: frozenset[str]) -> None:
    """Have ``form_class``'s forms share its fields, each copying only those in ``own``."""
    form_class.base_fields = SharedFields(form_class.base_fields, own=own)


def own_field(form: forms.BaseForm, name: str) -> forms.Field:
    """``form``'s field ``name`` copied for it alone, to alter: a form of a class whose
    fields are shared (:func:`share_fields`) that alters one only at times (a form sent,
    a thread the customer is not part of) copies it then, rather than every form."""
    field = form.fields[name] = copy.deepcopy(form.fields[name])
    return field
