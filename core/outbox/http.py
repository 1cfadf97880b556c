"""The outgoing HTTP session for everything that is not Mirakl (alert webhooks).

Modelled on Zulip's ``OutgoingSession``: one session per role, a default timeout on
every request, no automatic retries (the outbox retries, with its own policy), and no
redirects: a webhook that answers with a redirect is reported, never followed, so a
POST is never replayed somewhere else.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

__all__ = ["OutgoingSession", "outgoing_session"]


class _TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(max_retries=Retry(total=0, redirect=False, raise_on_redirect=False))

    def send(self, request: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class OutgoingSession(requests.Session):
    """A ``requests`` session with a default timeout, no retries and no redirects."""

    def __init__(self, *, role: str, timeout: float) -> None:
        super().__init__()
        self.role = role
        adapter = _TimeoutAdapter(timeout)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = f"Incidesk ({role})"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


@cache
def outgoing_session(role: str, timeout: float) -> OutgoingSession:
    """The process's session for ``role`` (one connection pool per role)."""
    return OutgoingSession(role=role, timeout=timeout)
