"""Schemathesis generates requests from our own OpenAPI schema; no input may produce a server error."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_no_request_generated_from_the_schema_gets_a_server_error(live_server, members, make_case, client_for):
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.authtoken.models import Token

    make_case()  # real objects behind small ids, so some generated requests reach deep code paths
    token = Token.objects.get_or_create(user=members["admin"])[0].key
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def exercise(case):
            case.call_and_validate(
                base_url=live_server.url, headers={"Authorization": f"Token {token}"}, checks=[not_a_server_error]
            )

        try:
            exercise()
        except Exception as exc:  # noqa: BLE001 - collect every failing operation before failing
            failures.append(f"{operation.label}: {str(exc)[:400]}")
    assert operations > 20
    assert not failures, "\n\n".join(failures)
