"""Server-rendered pages. They render a shell; the data arrive from the REST API the scripts call.

The case page embeds what the first frame needs (the case detail, its label schema and the
caller's role) so the browser starts downloading the reference volume without waiting for an
extra API round trip. Everything it embeds is exactly what the API returns for the same URLs.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from annotations.api.serializers import LabelSchemaSerializer
from annotations.api.views import case_detail_data
from annotations.models import CaseStatus, LabelSchema
from annotations.selectors import cases_for_user, projects_for_user, role_in_project


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    projects = projects_for_user(request.user).order_by("name")
    return render(request, "frontend/home.html", {"projects": projects})


@login_required
@require_GET
def worklist(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(projects_for_user(request.user), pk=project_id)
    role = role_in_project(request.user, project)
    return render(
        request,
        "frontend/worklist.html",
        {"project": project, "role": role, "statuses": CaseStatus.choices},
    )


@login_required
@require_GET
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    case = get_object_or_404(cases_for_user(request.user).select_related("project__label_schema"), pk=case_id)
    project = case.project
    schema = LabelSchema.objects.prefetch_related("labels").get(pk=project.label_schema_id)
    detail = case_detail_data(case)
    reference = next((v for v in detail["volumes"] if v["modality"] == detail["reference_modality"]), None)
    boot = {
        "case": detail,
        "schema": LabelSchemaSerializer(schema).data,
        "project": {"id": project.pk, "name": project.name},
        "role": role_in_project(request.user, project),
        "user": {"id": request.user.pk, "username": request.user.get_username()},
    }
    return render(
        request,
        "frontend/case.html",
        {"case": case, "project": project, "boot": boot, "reference_url": reference["url"] if reference else None},
    )
