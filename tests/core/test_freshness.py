"""The inbox stamp's bumps, coalesced while a sync commits page after page."""

from __future__ import annotations

import pytest

from core import freshness
from core.freshness import inbox_changes_coalesced, inbox_stamp_bump


@pytest.fixture
def bumps(monkeypatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(freshness, "_bump", seen.append)
    return seen


def test_outside_a_block_every_commit_bumps(bumps) -> None:
    inbox_stamp_bump()
    inbox_stamp_bump()
    assert bumps == [freshness.INBOX_STAMP_KEY] * 2


def test_within_a_block_at_most_one_bump_per_interval_and_the_last_one_at_its_end(
    bumps, monkeypatch
) -> None:
    clock = [100.0]
    monkeypatch.setattr(freshness.time, "monotonic", lambda: clock[0])
    with inbox_changes_coalesced(every=1.0):
        inbox_stamp_bump()  # the first change is told at once
        assert len(bumps) == 1
        clock[0] += 0.3
        inbox_stamp_bump()
        clock[0] += 0.3
        inbox_stamp_bump()
        assert len(bumps) == 1  # held back
        clock[0] += 0.5
        inbox_stamp_bump()  # a second since the last one
        assert len(bumps) == 2
        clock[0] += 0.1
        inbox_stamp_bump()
        assert len(bumps) == 2
    assert len(bumps) == 3  # the held-back change, told at the end
    inbox_stamp_bump()
    assert len(bumps) == 4  # the block is over


def test_a_block_without_changes_bumps_nothing_and_nested_blocks_leave_the_outer_in_charge(
    bumps,
) -> None:
    with inbox_changes_coalesced():
        pass
    assert bumps == []
    with inbox_changes_coalesced():
        inbox_stamp_bump()
        with inbox_changes_coalesced():
            inbox_stamp_bump()
        assert len(bumps) == 1  # the inner block's end does not tell
    assert len(bumps) == 2


def test_a_block_left_by_an_error_still_tells_its_changes(bumps) -> None:
    with pytest.raises(RuntimeError), inbox_changes_coalesced():
        inbox_stamp_bump()
        inbox_stamp_bump()
        raise RuntimeError
    assert len(bumps) == 2
