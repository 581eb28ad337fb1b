"""Server-rendered pages. They render a shell; the data arrive from the REST API the scripts call.

The case page embeds what the first frame needs (the case detail, its label schema and the
caller's role) so the browser starts downloading the reference volume without waiting for an
extra API round trip. Everything it embeds is exactly what the API returns for the same URLs.

The project pages (models, jobs, exports) embed only the choices the server's registries offer
(active-learning strategies, export formats and their options), so a select never lists a name the
API would refuse.
"""

import sys
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from annotations.api.serializers import LabelSchemaSerializer
from annotations.api.views import case_detail_data
from annotations.models import CaseStatus, LabelSchema, Project
from annotations.selectors import cases_for_user, projects_for_user, role_in_project

# "priority" and "created" are the worklist's own orderings; the rest are active-learning strategies.
BASIC_ORDERINGS = ("priority", "created")


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    projects = projects_for_user(request.user).order_by("name")
    return render(request, "frontend/home.html", {"projects": projects})


def _project_context(request: HttpRequest, project: Project, section: str) -> dict[str, Any]:
    return {"project": project, "role": role_in_project(request.user, project), "section": section}


def next_case_strategies() -> list[str]:
    """Every name ``GET /api/projects/{id}/next-case?strategy=`` accepts, the default first."""
    from annotations.services.worklist import ORDERINGS

    return [*BASIC_ORDERINGS, *sorted(set(ORDERINGS) - set(BASIC_ORDERINGS))]


def scoring_strategies() -> list[str]:
    """Every strategy a scoring job accepts (model-based ones appear once their code registers)."""
    from inference.services.active_learning import STRATEGIES

    return sorted(STRATEGIES)


def export_formats() -> list[dict[str, Any]]:
    """Export formats with a one-line description and the options each accepts (with defaults)."""
    from annotations.exporters.registry import EXPORTERS

    formats = []
    for name, exporter in EXPORTERS.items():
        doc = (sys.modules[exporter.__module__].__doc__ or "").strip().splitlines()
        description = doc[0].replace("``", "") if doc else ""
        formats.append({"name": name, "description": description, "options": dict(exporter.param_defaults)})
    return formats


@login_required
@require_GET
def worklist(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(projects_for_user(request.user), pk=project_id)
    return render(
        request,
        "frontend/worklist.html",
        {
            **_project_context(request, project, "worklist"),
            "statuses": CaseStatus.choices,
            "strategies": next_case_strategies(),
        },
    )


@login_required
@require_GET
def models_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(projects_for_user(request.user), pk=project_id)
    return _render_models(request, project, selected=None)


@login_required
@require_GET
def model_page(request: HttpRequest, model_id: int) -> HttpResponse:
    from inference.models import ModelVersion

    model = get_object_or_404(
        ModelVersion.objects.filter(project__in=projects_for_user(request.user)).select_related("project"),
        pk=model_id,
    )
    return _render_models(request, model.project, selected=model)


def _render_models(request: HttpRequest, project: Project, selected: Any) -> HttpResponse:
    return render(
        request,
        "frontend/models.html",
        {
            **_project_context(request, project, "models"),
            "selected": selected,
            "scoring_strategies": scoring_strategies(),
        },
    )


@login_required
@require_GET
def jobs_page(request: HttpRequest, project_id: int) -> HttpResponse:
    from inference.models import JobStatus, JobType

    project = get_object_or_404(projects_for_user(request.user), pk=project_id)
    return render(
        request,
        "frontend/jobs.html",
        {**_project_context(request, project, "jobs"), "job_types": JobType.choices, "job_statuses": JobStatus.choices},
    )


def jobs_for_user(user: Any) -> QuerySet:
    """The jobs the API lets ``user`` read: those of their projects, and their own project-less ones."""
    from inference.models import Job

    if user.is_superuser:
        return Job.objects.all()
    return Job.objects.filter(Q(project__in=projects_for_user(user)) | Q(project__isnull=True, created_by=user))


@login_required
@require_GET
def job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(jobs_for_user(request.user).select_related("project"), pk=job_id)
    context = _project_context(request, job.project, "jobs") if job.project is not None else {"role": None}
    return render(request, "frontend/job.html", {**context, "job": job})


@login_required
@require_GET
def exports_page(request: HttpRequest, project_id: int) -> HttpResponse:
    from annotations.exporters.base import CHANNEL_ORDER, MASK_KINDS

    project = get_object_or_404(projects_for_user(request.user), pk=project_id)
    formats = export_formats()
    return render(
        request,
        "frontend/exports.html",
        {
            **_project_context(request, project, "exports"),
            "formats": formats,
            "export_options": {
                "formats": {f["name"]: f["options"] for f in formats},
                "mask_kinds": list(MASK_KINDS),
                "modalities": list(CHANNEL_ORDER),
            },
        },
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
