"""The upload form of the documents panel."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.validators import CheckedUpload, validate_upload

__all__ = ["DOCUMENT_EXTENSIONS", "DocumentUploadForm"]

#: What an order document may be: the uploads Incidesk accepts that OR74 takes too
#: (MIRAKL_API_ACCOUNT.md: no webp, docx or jpeg spelt that way).
DOCUMENT_EXTENSIONS = ("pdf", "png", "jpg", "gif", "txt", "csv", "doc", "xls", "xlsx", "odt", "ods")


class DocumentUploadForm(forms.Form):
    """A file and its document type (the invoice by default)."""

    type_code = forms.ChoiceField(label=_("Type"))
    file = forms.FileField(label=_("File"))

    def __init__(self, *args: Any, types: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["type_code"].choices = types  # type: ignore[attr-defined]
        self.fields["file"].widget.attrs["accept"] = ",".join(
            f".{ext}" for ext in DOCUMENT_EXTENSIONS
        )
        self.checked: CheckedUpload | None = None

    @property
    def type_label(self) -> str:
        choices = dict(self.fields["type_code"].choices)  # type: ignore[attr-defined]
        return str(choices.get(self.cleaned_data["type_code"], ""))

    def clean_file(self) -> Any:
        """Size, extension and the bytes' type (:func:`core.validators.validate_upload`),
        then an extension Mirakl takes for order documents."""
        file = self.cleaned_data["file"]
        self.checked = validate_upload(file)
        extension = PurePosixPath(self.checked.name).suffix.lower().lstrip(".")
        if extension not in DOCUMENT_EXTENSIONS:
            raise ValidationError(
                _("«%(name)s»: Mirakl does not take this type of file. Accepted: %(types)s.")
                % {
                    "name": self.checked.name,
                    "types": ", ".join(ext.upper() for ext in DOCUMENT_EXTENSIONS),
                },
                code="file_type",
            )
        return file
