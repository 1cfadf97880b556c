"""Fixtures of the order documents tests: the synced sandbox shop and an agent."""

from tests.messaging.fixtures import agent, agent_client, synced  # noqa: F401
