"""A small, fast, stateful stand-in for a Mirakl marketplace's shop API.

It serves OR11, OR28, OR64, RE01, M10, M11, M12, M13 and OR43 like MIRAKL_API.md describes
them, and the shop account (A01), its statistics (A21) and order documents (DO01, OR72,
OR73, OR74, OR76) like MIRAKL_API_ACCOUNT.md does, over a deterministic Spanish data set.
It plays the customer and the operator through control endpoints under ``/_sandbox/``.
Plain Python (no Django).
"""

from mirakl.sandbox.clock import SandboxClock
from mirakl.sandbox.faults import FaultSpec, parse_fault_spec
from mirakl.sandbox.server import DEFAULT_API_KEY, SandboxServer
from mirakl.sandbox.state import SandboxState

__all__ = [
    "DEFAULT_API_KEY",
    "FaultSpec",
    "SandboxClock",
    "SandboxServer",
    "SandboxState",
    "parse_fault_spec",
]
