"""Fixtures of the messaging tests (see ``fixtures.py``)."""

from tests.messaging.fixtures import agent, agent_client, synced  # noqa: F401
