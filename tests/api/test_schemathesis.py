"""Generated requests from the OpenAPI schema against a live server: never a 500.

Marked ``schemathesis`` (about half a minute): ``pytest -m "not schemathesis"`` skips
it. Schemathesis' own pytest plugin does not run under pytest 9 yet, so the test loads
the schema and drives Hypothesis itself, one operation at a time.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.api.conftest import ROLES

#: Examples per operation and generation mode (valid, then invalid input).
EXAMPLES = 12


@pytest.fixture
def admin_token(transactional_db, make_user) -> str:
    from rest_framework.authtoken.models import Token

    user = make_user(ROLES[-1], username="schemathesis")
    user.is_superuser = True  # every endpoint, replies and marketplace writes included
    user.save(update_fields=["is_superuser"])
    return Token.objects.create(user=user).key


@pytest.mark.schemathesis
def test_no_server_error_on_any_generated_request(live_server, admin_token, desk, settings):
    # Replies are queued and delivered after commit: no worker and no Mirakl here.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "memory://"
    headers = {"Authorization": f"Token {admin_token}"}
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", headers=headers, timeout=10
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:
        has_input = any(
            len(part) for part in (operation.path_parameters, operation.query, operation.headers)
        ) or bool(len(operation.body))
        modes = [GenerationMode.POSITIVE]
        if has_input:
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case) -> None:
                case.call_and_validate(
                    base_url=live_server.url,
                    headers=headers,
                    checks=[not_a_server_error],
                    timeout=10,
                )

            try:
                run()
            except Unsatisfiable:
                # No invalid request exists for an operation without inputs.
                if mode is GenerationMode.POSITIVE:
                    raise
