"""Schemathesis requests generated from the schema of the export endpoints never get a server error."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("export_job_type", "export_urls"),
]


def test_export_endpoints_survive_generated_requests(live_server, project, members, make_approved):
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.authtoken.models import Token

    from annotations.exporters.jobs import export_archive
    from annotations.models import Export
    from annotations.services.snapshots import snapshot_freeze

    make_approved("FUZZ-1")
    snapshot = snapshot_freeze(project=project, user=None)
    export_archive(export=Export.objects.create(project=project, snapshot=snapshot, format="bids"), options={})
    Export.objects.create(project=project, snapshot=snapshot, format="nnunet")  # one without an archive
    token = Token.objects.get_or_create(user=members["admin"])[0].key
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    failures, labels = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        if "export" not in operation.label:
            continue
        labels.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def exercise(case):
            case.call_and_validate(
                base_url=live_server.url, headers={"Authorization": f"Token {token}"}, checks=[not_a_server_error]
            )

        try:
            exercise()
        except Exception as exc:  # noqa: BLE001 - collect every failing operation before failing
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert {"GET /api/exports/{export_id}/download", "GET /api/projects/{project_id}/exports/"} <= set(labels)
    assert not failures, "\n\n".join(failures)
