"""Generated requests from the OpenAPI schema against a live server: never a server error.

Every operation of the schema is called with the token of each role that may use it
(an agent's and an admin's; which role may call what comes from the views' own
``required_permissions``), first one operation at a time with valid and invalid input,
then in sequences that feed one answer into the next call (schemathesis' stateful
phase, links inferred from the schema). The seed is fixed, so a failure reproduces.

Marked ``schemathesis`` (about a minute): ``pytest -m "not schemathesis"`` skips it.
Schemathesis' own pytest plugin does not run under pytest 9 yet, so the test loads the
schema and drives Hypothesis itself.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.urls import resolve
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from core.roles import Role

pytestmark = pytest.mark.schemathesis

#: The seed of every generated request: the same run every time.
SEED = 20261206
#: Examples per operation, generation mode (valid, then invalid input) and token.
EXAMPLES = 8
#: Sequences of the stateful phase per token, and calls per sequence.
SEQUENCES = 16
STEPS = 6

SETTINGS: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}


@pytest.fixture
def tokens(transactional_db, make_user) -> dict[str, tuple[User, str]]:
    """A user and an API token per role under test (the admin role's user is staff)."""
    agent = make_user(Role.AGENT, username="schemathesis-agent")
    admin = make_user(Role.ADMIN, username="schemathesis-admin")
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    return {user.username: (user, Token.objects.create(user=user).key) for user in (agent, admin)}


def _may_call(user: User, method: str, path: str) -> bool:
    """Whether the user's role may call this operation, as the view itself decides."""
    match = resolve(re.sub(r"\{[^}]+\}", "1", path))
    view = match.func.cls  # type: ignore[attr-defined]
    required = getattr(view, "required_permissions", {}).get(method.upper())
    return required is not None and user.has_perms(required)


def _has_input(operation: Any) -> bool:
    return any(
        len(part) for part in (operation.path_parameters, operation.query, operation.headers)
    ) or bool(len(operation.body))


def _generate(operation: Any, mode: GenerationMode, *, base_url: str, key: str) -> None:
    """Call one operation with generated requests of one mode, with one token."""
    headers = {"Authorization": f"Token {key}"}

    @seed(SEED)
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(max_examples=EXAMPLES, **SETTINGS)
    def run(case: Any) -> None:
        case.call_and_validate(
            base_url=base_url, headers=headers, checks=[not_a_server_error], timeout=10
        )

    try:
        run()
    except Unsatisfiable:
        # No invalid request exists for an operation without inputs.
        if mode is GenerationMode.POSITIVE:
            raise


@pytest.fixture
def live_api(live_server, desk, settings) -> str:
    # Replies, conversations and refunds are queued and delivered after commit: no
    # worker and no Mirakl here.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "memory://"
    return live_server.url


def test_no_server_error_on_any_generated_request(live_api, tokens) -> None:
    _, any_key = next(iter(tokens.values()))
    schema = schemathesis.openapi.from_url(
        f"{live_api}/api/schema/?format=json",
        headers={"Authorization": f"Token {any_key}"},
        timeout=10,
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    called: set[str] = set()

    for operation in operations:
        modes = [GenerationMode.POSITIVE]
        if _has_input(operation):
            modes.append(GenerationMode.NEGATIVE)
        for user, key in tokens.values():
            if not _may_call(user, operation.method, operation.path):
                continue
            called.add(operation.label)
            for mode in modes:
                _generate(operation, mode, base_url=live_api, key=key)

    # Every operation was called by at least one role.
    assert called == {operation.label for operation in operations}

    # The stateful phase: sequences of calls linked by the schema (a listed order's id
    # fed to its detail, a created refund request to its approval, ...).
    machine = schema.as_state_machine()
    assert machine.bundles, "no link between operations: the stateful phase has nothing to do"
    for _user, key in tokens.values():
        headers = {"Authorization": f"Token {key}"}

        class Sequences(machine):  # type: ignore[misc, valid-type]
            def get_call_kwargs(self, case: Any, headers: dict[str, str] = headers) -> dict:
                return {"base_url": live_api, "headers": headers, "timeout": 10}

            def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
                kwargs.pop("additional_checks", None)
                case.validate_response(
                    response, checks=[not_a_server_error], transport_kwargs=kwargs
                )

        Sequences.run(
            settings=hypothesis_settings(
                max_examples=SEQUENCES,
                stateful_step_count=STEPS,
                derandomize=True,
                **SETTINGS,
            )
        )
