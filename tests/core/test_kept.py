"""core.kept: a process's bounded memo."""

from __future__ import annotations

from core.kept import Kept


def test_kept_answers_what_it_was_given_until_full_then_starts_over() -> None:
    kept: Kept[str, int] = Kept(2)
    assert kept.get("a") is None
    assert kept.keep("a", 1) == 1
    kept.keep("b", 2)
    assert (kept.get("a"), kept.get("b"), len(kept)) == (1, 2, 2)
    kept.keep("c", 3)  # full: everything before is forgotten
    assert (kept.get("a"), kept.get("b"), kept.get("c"), len(kept)) == (None, None, 3, 1)


def test_keeping_a_key_again_replaces_its_value_without_forgetting_the_others() -> None:
    kept: Kept[str, int] = Kept(3)
    kept.keep("a", 1)
    kept.keep("b", 2)
    kept.keep("a", 10)
    assert (kept.get("a"), kept.get("b")) == (10, 2)
