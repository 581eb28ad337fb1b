"""The demo data commands: generate, import, picture."""

import pytest
from django.core.management import call_command
from PIL import Image

from annotations.models import Case, MaskVersion, ReportVersion

pytestmark = pytest.mark.slow


def test_make_demo_data_generates_and_imports_into_a_project(project, tmp_path, capsys):
    out = tmp_path / "demo"
    call_command(
        "make_demo_data",
        "--cases",
        "3",
        "--seed",
        "5",
        "--out",
        str(out),
        "--import",
        project.name,
        "--workers",
        "1",
        verbosity=0,
    )
    assert "Imported 3 new cases" in capsys.readouterr().out
    assert Case.objects.filter(project=project).count() == 3
    assert MaskVersion.objects.filter(source="import").count() >= 5  # lesion and structure per case (healthy: 0s)
    assert ReportVersion.objects.filter(source="import").count() == 3
    case = Case.objects.order_by("pk").first()
    png = tmp_path / "case.png"
    call_command("case_png", str(case.pk), "--out", str(png), verbosity=0)
    assert Image.open(png).size[0] > 200


def test_case_preview_is_a_png_with_a_stable_etag(project, members, client_for, make_case):
    case = make_case()
    client = client_for(members["viewer"])
    first = client.get(f"/api/cases/{case.pk}/preview.png?size=64")
    assert first.status_code == 200 and first["Content-Type"] == "image/png"
    assert client.get(f"/api/cases/{case.pk}/preview.png?size=64", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
