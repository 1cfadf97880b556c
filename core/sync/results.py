"""What a sync run reports: counts per resource and the records it had to skip."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PageResult", "ResourceResult", "Skipped"]


@dataclass(slots=True)
class Skipped:
    """A record Mirakl sent that was not stored, and why.

    :param kind: a :class:`~core.sync.models.SkippedRecord.Kind` value.
    :param reason: a :class:`~core.sync.models.SkippedRecord.Reason` value.
    :param detail: what exactly was wrong (field, value, Mirakl's or Postgres's words).
    """

    kind: str
    mirakl_id: str | None
    reason: str
    detail: str
    excerpt: str = ""

    def as_dict(self) -> dict[str, str | None]:
        """The summary kept on the run (``SyncRun.skipped_records``)."""
        return {
            "id": self.mirakl_id,
            "kind": self.kind,
            "reason": self.reason,
            "error": self.detail,
        }


@dataclass(slots=True)
class PageResult:
    """The effect of writing one page of Mirakl records."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    #: Primary keys of the orders whose incidents may need their state re-derived.
    touched_orders: set[int] = field(default_factory=set)

    def __iadd__(self, other: PageResult) -> PageResult:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped.extend(other.skipped)
        self.touched_orders |= other.touched_orders
        return self


@dataclass(slots=True)
class ResourceResult:
    """The effect of syncing one resource of one connection."""

    connection: str
    resource: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    pages: int = 0
    requests: int = 0
    resumed: bool = False
    error: str = ""
    skipped_records: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error

    def add_page(self, page: PageResult) -> None:
        self.pages += 1
        self.created += page.created
        self.updated += page.updated
        self.unchanged += page.unchanged
        self.skipped += len(page.skipped)
        self.skipped_records.extend(s.as_dict() for s in page.skipped)
