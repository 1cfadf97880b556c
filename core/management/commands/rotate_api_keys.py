"""Re-encrypt every encrypted field (the Mirakl API keys) with the current first key.

Rotation (README, "Secrets"): prepend the new key to ``FIELD_ENCRYPTION_KEY`` (or
move the old ``SECRET_KEY`` to ``SECRET_KEY_FALLBACKS``), restart, run this command,
then drop the old key. Values the old keys can no longer decrypt are reported, never
overwritten.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F, TextField
from django.db.models.functions import Cast
from encrypted_fields.fields import EncryptedFieldMixin


class Command(BaseCommand):
    help = "Re-encrypt every stored API key with the first (current) encryption key."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would change; write nothing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        rotated = current = 0
        failed: list[str] = []
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if not isinstance(field, EncryptedFieldMixin):
                    continue
                # The keys are cached on the field: read the settings in force now.
                field.__dict__.pop("keys", None)
                field.__dict__.pop("f", None)
                r, c, f = self._rotate(model, field, dry_run=dry_run)
                rotated, current, failed = rotated + r, current + c, failed + f
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(f"{verb} {rotated} value(s); {current} already used the current key.")
        if failed:
            raise CommandError(
                "Cannot decrypt with any configured key (left unchanged): " + ", ".join(failed)
            )

    @transaction.atomic
    def _rotate(self, model: Any, field: Any, *, dry_run: bool) -> tuple[int, int, list[str]]:
        # The first key encrypts; MultiFernet keeps its keys to itself (cryptography ≥ 44).
        primary = Fernet(field.keys[0])
        rows = (
            model._default_manager.select_for_update()
            .exclude(**{f"{field.name}__isnull": True})
            .annotate(_ciphertext=Cast(F(field.attname), TextField()))
            .values_list("pk", "_ciphertext")
        )
        rotated = current = 0
        failed = []
        label = f"{model._meta.label}.{field.name}"
        for pk, token in rows:
            if not token:
                continue
            try:
                primary.decrypt(token.encode())
            except InvalidToken:
                pass
            else:
                current += 1
                continue
            try:
                plain = field.f.decrypt(token.encode()).decode()
            except InvalidToken:
                failed.append(f"{label} pk={pk}")
                continue
            if not dry_run:
                # update() encrypts the plain value again, with the first key.
                model._default_manager.filter(pk=pk).update(**{field.name: plain})
            rotated += 1
        return rotated, current, failed
