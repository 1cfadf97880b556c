"""Fixtures of the outbox tests: the synced sandbox shop and an agent."""

from tests.messaging.fixtures import agent, synced  # noqa: F401
