"""The advisory lock registry: numbers never change, and the locks hold."""

import threading

import pytest
from django.db import connection, connections, transaction

from core.locks import AdvisoryLock, advisory_xact_lock, try_advisory_xact_lock


def test_keys_are_never_renumbered() -> None:
    # A deploy runs two releases side by side: a renumbered key lets two jobs overlap.
    assert {lock.name: lock.value for lock in AdvisoryLock} == {
        "SLA_SWEEP": 1743827167,
        "SLA_ALERTS": 690914572,
        "SYNC_ALERTS": 287130649,
        "SHOP_HEALTH": 3921532300,
    }


@pytest.mark.django_db(transaction=True)
def test_a_held_key_is_refused_to_another_transaction_until_it_ends() -> None:
    seen: list[bool] = []

    def other() -> None:
        try:
            with transaction.atomic():
                seen.append(try_advisory_xact_lock(AdvisoryLock.SLA_SWEEP))
        finally:
            connections.close_all()

    with transaction.atomic():
        advisory_xact_lock(AdvisoryLock.SLA_SWEEP)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [False, True]
    assert connection.vendor == "postgresql"
