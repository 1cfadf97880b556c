"""``manage.py sync_marketplaces``: sync now, with progress and a summary."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import MarketplaceConnection
from core.sync.results import ResourceResult
from core.sync.runner import marketplaces_sync


class Command(BaseCommand):
    help = "Sync orders, incidents and message threads from Mirakl into the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--marketplace",
            action="append",
            dest="codes",
            metavar="CODE",
            help="Only this connection (repeatable). Default: every active one.",
        )
        parser.add_argument(
            "--full", action="store_true", help="Re-read everything, not only what changed."
        )

    def handle(self, *args, codes=None, full=False, **options) -> None:
        if codes:
            known = set(
                MarketplaceConnection.objects.filter(code__in=codes).values_list("code", flat=True)
            )
            missing = sorted(set(codes) - known)
            if missing:
                raise CommandError(f"Unknown marketplace: {', '.join(missing)}")

        def progress(result: ResourceResult) -> None:
            self.stdout.write(
                f"  {result.connection}/{result.resource}: page {result.pages} · "
                f"{result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged, {result.skipped} skipped"
            )

        outcome = marketplaces_sync(codes=codes, full=full, progress=progress)
        if not outcome:
            self.stdout.write("No active marketplace to sync.")
            return
        failed = False
        self.stdout.write("")
        header = f"{'marketplace':<16}{'resource':<10}{'created':>9}{'updated':>9}"
        header += f"{'unchanged':>11}{'skipped':>9}{'requests':>10}  status"
        self.stdout.write(header)
        for code, results in outcome.items():
            if isinstance(results, Exception):
                failed = True
                self.stdout.write(self.style.ERROR(f"{code:<16}{'-':<10} failed: {results}"))
                continue
            for r in results:
                status = (
                    self.style.SUCCESS("ok") if r.ok else self.style.ERROR(f"failed: {r.error}")
                )
                failed |= not r.ok
                self.stdout.write(
                    f"{code:<16}{r.resource:<10}{r.created:>9}{r.updated:>9}"
                    f"{r.unchanged:>11}{r.skipped:>9}{r.requests:>10}  {status}"
                )
                for record in r.skipped_records[:20]:
                    self.stdout.write(f"    skipped {record.get('id')}: {record.get('error')}")
        if failed:
            raise CommandError("Some marketplaces failed to sync; see above.")
