"""Case-store endpoints. Views look objects up through member-scoped querysets (non-members get
404), validate the request shape, and hand everything else to the services."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import F, QuerySet
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations import nifti
from annotations.api import serializers as s
from annotations.api.parsers import NiftiBodyParser
from annotations.blobs import blob_open
from annotations.errors import InvalidInput
from annotations.models import (
    Case,
    LabelSchema,
    MaskKind,
    MaskVersion,
    Membership,
    Project,
    ReportVersion,
    Review,
    Role,
)
from annotations.selectors import cases_for_user, projects_for_user, role_in_project
from annotations.services import cases as case_services
from annotations.services import projects as project_services
from annotations.services.access import require_role
from annotations.services.masks import mask_latest, mask_save, parse_if_match
from annotations.services.previews import case_preview_png
from annotations.services.reports import report_latest, report_save
from annotations.services.reviews import case_review
from annotations.services.worklist import case_next

IMMUTABLE_CACHE = "private, max-age=31536000, immutable"


def get_project(request: Request, project_id: int, minimum: Role | None = None, action: str = "") -> Project:
    project = get_object_or_404(projects_for_user(request.user), pk=project_id)
    if minimum is not None:
        require_role(request.user, project, minimum, action)
    return project


def get_case(request: Request, case_id: int) -> Case:
    return get_object_or_404(cases_for_user(request.user).select_related("project__label_schema"), pk=case_id)


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    return any(tag.strip() in (etag, f"W/{etag}", "*") for tag in header.split(","))


# --- schemas and projects ---------------------------------------------------------------------------


class LabelSchemaList(generics.ListAPIView):
    serializer_class = s.LabelSchemaSerializer
    queryset = LabelSchema.objects.prefetch_related("labels")
    pagination_class = None


class LabelSchemaDetail(generics.RetrieveAPIView):
    serializer_class = s.LabelSchemaSerializer
    queryset = LabelSchema.objects.prefetch_related("labels")
    lookup_field = "slug"


class ProjectList(APIView):
    @extend_schema(responses=s.ProjectReadSerializer(many=True))
    def get(self, request: Request) -> Response:
        projects = list(projects_for_user(request.user).order_by("name"))
        roles = dict(Membership.objects.filter(user=request.user).values_list("project_id", "role"))
        if request.user.is_superuser:
            roles = {p.pk: "admin" for p in projects} | roles
        return Response(s.ProjectReadSerializer(projects, many=True, context={"roles": roles}).data)

    @extend_schema(request=s.ProjectWriteSerializer, responses={201: s.ProjectReadSerializer})
    def post(self, request: Request) -> Response:
        body = s.ProjectWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = project_services.project_create(user=request.user, **body.validated_data)
        data = s.ProjectReadSerializer(project, context={"roles": {project.pk: "admin"}}).data
        return Response(data, status=status.HTTP_201_CREATED)


class ProjectDetail(APIView):
    @extend_schema(responses=s.ProjectReadSerializer)
    def get(self, request: Request, project_id: int) -> Response:
        project = get_project(request, project_id)
        role = role_in_project(request.user, project)
        return Response(s.ProjectReadSerializer(project, context={"roles": {project.pk: role}}).data)

    @extend_schema(request=s.ProjectUpdateSerializer, responses=s.ProjectReadSerializer)
    def patch(self, request: Request, project_id: int) -> Response:
        project = get_project(request, project_id, Role.ADMIN, "change the project")
        body = s.ProjectUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        for field, value in body.validated_data.items():
            setattr(project, field, value)
        project.save()
        return Response(s.ProjectReadSerializer(project, context={"roles": {project.pk: "admin"}}).data)


class MemberList(APIView):
    @extend_schema(responses=s.MembershipSerializer(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = get_project(request, project_id)
        members = project.memberships.select_related("user").order_by("user__username")
        return Response(s.MembershipSerializer(members, many=True).data)

    @extend_schema(request=s.MembershipWriteSerializer, responses={201: s.MembershipSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project = get_project(request, project_id, Role.ADMIN, "manage members")
        body = s.MembershipWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = project_services.membership_set(project=project, actor=request.user, **body.validated_data)
        return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetail(APIView):
    def _membership(self, request: Request, project_id: int, user_id: int) -> Membership:
        project = get_project(request, project_id, Role.ADMIN, "manage members")
        return get_object_or_404(project.memberships.select_related("user", "project"), user_id=user_id)

    @extend_schema(request=s.MembershipRoleSerializer, responses=s.MembershipSerializer)
    def patch(self, request: Request, project_id: int, user_id: int) -> Response:
        membership = self._membership(request, project_id, user_id)
        body = s.MembershipRoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = project_services.membership_set(
            project=membership.project,
            username=membership.user.get_username(),
            role=body.validated_data["role"],
            actor=request.user,
        )
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, user_id: int) -> Response:
        membership = self._membership(request, project_id, user_id)
        project_services.membership_remove(membership=membership, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- cases -------------------------------------------------------------------------------------------


class CaseFilter(django_filters.FilterSet):
    # distinct=False: a case has one status; DISTINCT over every column made 100k-case pages slow.
    status = django_filters.MultipleChoiceFilter(choices=Case._meta.get_field("status").choices, distinct=False)
    split = django_filters.ChoiceFilter(choices=Case._meta.get_field("split").choices)
    assignee = django_filters.CharFilter(method="filter_assignee", help_text="A user id, 'me' or 'none'.")
    external_id = django_filters.CharFilter(lookup_expr="icontains")
    ordering = django_filters.ChoiceFilter(
        method="order",
        choices=[(o, o) for o in ("priority", "-priority", "created", "-created", "updated", "-updated")],
    )

    class Meta:
        model = Case
        fields = ["status", "split", "assignee", "external_id"]

    def filter_assignee(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        if value == "me":
            return queryset.filter(assignee=self.request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if not value.isdigit():
            raise InvalidInput("assignee must be a user id, 'me' or 'none'.")
        return queryset.filter(assignee_id=int(value))

    def order(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        if value == "priority":
            return queryset.order_by(F("priority").desc(nulls_last=True), "created_at", "id")
        if value == "-priority":
            return queryset.order_by(F("priority").asc(nulls_last=True), "created_at", "id")
        field = {"created": "created_at", "updated": "updated_at"}[value.lstrip("-")]
        prefix = "-" if value.startswith("-") else ""
        return queryset.order_by(f"{prefix}{field}", f"{prefix}id")


class CasePagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


LIST_FIELDS = (
    "id",
    "project_id",
    "external_id",
    "status",
    "split",
    "priority",
    "priority_strategy",
    "modalities",
    "reference_modality",
    "created_at",
    "updated_at",
    "assignee__id",
    "assignee__username",
    "last_editor__id",
    "last_editor__username",
)


class CaseList(generics.ListAPIView):
    serializer_class = s.CaseListSerializer
    filterset_class = CaseFilter
    pagination_class = CasePagination
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self) -> QuerySet[Case]:
        if getattr(self, "swagger_fake_view", False):
            return Case.objects.none()
        project = get_project(self.request, self.kwargs["project_id"])
        return (
            Case.objects.filter(project=project, deleted_at__isnull=True)
            .select_related("assignee", "last_editor")
            .only(*LIST_FIELDS)
            .order_by("created_at", "id")
        )

    @extend_schema(
        request={"multipart/form-data": s.CaseCreateSerializer},
        responses={201: s.CaseDetailSerializer, 200: s.CaseDetailSerializer},
        description="Upload one file per modality (named T1, T1CE, T2, FLAIR, DWI, ADC) and optional lesion and "
        "structure masks. The first modality given, or `reference`, fixes the case's grid. Sending the same "
        "images again for an existing external_id returns the existing case with 200.",
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = get_project(request, project_id)
        volumes = {key: f.read() for key, f in request.FILES.items() if key not in ("lesion", "structure")}
        masks = {key: request.FILES[key].read() for key in ("lesion", "structure") if key in request.FILES}
        result = case_services.case_create(
            project=project,
            external_id=str(request.data.get("external_id", "")).strip(),
            volumes=volumes,
            masks=masks,
            reference=request.data.get("reference") or None,
            split=request.data.get("split") or "unassigned",
            user=request.user,
        )
        return Response(
            case_detail_data(result.case), status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )


def case_detail_data(case: Case) -> dict[str, Any]:
    case = Case.objects.select_related("assignee", "last_editor").prefetch_related("volumes").get(pk=case.pk)
    latest = {}
    for kind in MaskKind.values:
        mask = mask_latest(case, kind)
        if mask is not None:
            latest[kind] = mask
    report = report_latest(case)
    context = {"latest_masks": latest, "report_version": report.version if report else 0}
    return s.CaseDetailSerializer(case, context=context).data


class CaseDetail(APIView):
    @extend_schema(responses=s.CaseDetailSerializer)
    def get(self, request: Request, case_id: int) -> Response:
        return Response(case_detail_data(get_case(request, case_id)))

    @extend_schema(request=s.CaseUpdateSerializer, responses=s.CaseDetailSerializer)
    def patch(self, request: Request, case_id: int) -> Response:
        case = get_case(request, case_id)
        body = s.CaseUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        case = case_services.case_update(
            case=case,
            user=request.user,
            assignee=data["assignee"] if "assignee" in data else ...,
            split=data.get("split"),
            priority=data["priority"] if "priority" in data else ...,
        )
        return Response(case_detail_data(case))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, case_id: int) -> Response:
        case_services.case_delete(case=get_case(request, case_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VolumeFile(APIView):
    @extend_schema(responses={(200, "application/gzip"): OpenApiTypes.BINARY, 304: None})
    def get(self, request: Request, case_id: int, modality: str) -> HttpResponse:
        case = get_case(request, case_id)
        volume = get_object_or_404(case.volumes, modality=modality)
        etag = f'"{volume.sha256}"'
        if _etag_matches(request, etag):
            response = HttpResponse(status=304)
        else:
            response = FileResponse(blob_open(volume.file), content_type="application/gzip")
            response["Content-Length"] = str(volume.size_bytes)
            response["Content-Disposition"] = f'inline; filename="{case.external_id}_{modality}.nii.gz"'
        response["ETag"] = etag
        response["Cache-Control"] = IMMUTABLE_CACHE
        return response


class NextCase(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "strategy",
                str,
                description="Ordering of candidates (priority, created, or an active-learning strategy).",
            )
        ],
        responses={200: s.CaseDetailSerializer, 204: None},
        description="The caller's next case: one already assigned to them and still open, otherwise the best "
        "unassigned case, which is assigned to them atomically. 204 when the worklist is empty.",
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = get_project(request, project_id)
        case = case_next(project=project, user=request.user, strategy=request.query_params.get("strategy"))
        if case is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(case_detail_data(case))


class CasePreview(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("size", int, description="Tile size in pixels (48-400).")],
        responses={(200, "image/png"): OpenApiTypes.BINARY, 304: None},
        description="Every sequence in three planes through the largest lesion, with lesion outlines.",
    )
    def get(self, request: Request, case_id: int) -> HttpResponse:
        case = get_case(request, case_id)
        size = request.query_params.get("size", "120")
        if not size.isdigit() or not 48 <= int(size) <= 400:
            raise InvalidInput("size must be a whole number from 48 to 400.")
        data, key = case_preview_png(case, size=int(size))
        etag = f'"{key}"'
        response = (
            HttpResponse(status=304) if _etag_matches(request, etag) else HttpResponse(data, content_type="image/png")
        )
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response


# --- masks -------------------------------------------------------------------------------------------


def _mask_kind(kind: str) -> str:
    if kind not in MaskKind.values:
        raise InvalidInput(f"Unknown mask kind {kind!r}; use lesion or structure.")
    return kind


class MaskFile(APIView):
    parser_classes = [NiftiBodyParser]

    @extend_schema(
        parameters=[OpenApiParameter("version", int, description="An older version; the latest when omitted.")],
        responses={(200, "application/gzip"): OpenApiTypes.BINARY, 304: None},
        description='The mask on the case\'s reference grid. ETag is the version ("0" and an empty mask when '
        "nothing has been saved yet).",
    )
    def get(self, request: Request, case_id: int, kind: str) -> HttpResponse:
        case = get_case(request, case_id)
        kind = _mask_kind(kind)
        requested = request.query_params.get("version")
        if requested is not None:
            if not requested.isdigit():
                raise InvalidInput("version must be a whole number.")
            mask: MaskVersion | None = get_object_or_404(MaskVersion, case=case, kind=kind, version=int(requested))
        else:
            mask = mask_latest(case, kind)
        version = mask.version if mask else 0
        etag = f'"{version}"'
        if _etag_matches(request, etag):
            response: HttpResponse = HttpResponse(status=304)
        elif mask is None:
            import numpy as np

            empty = nifti.encode_labels(np.zeros(tuple(case.shape), dtype=np.uint8), np.asarray(case.affine))
            response = HttpResponse(empty, content_type="application/gzip")
        else:
            response = FileResponse(blob_open(mask.file), content_type="application/gzip")
            response["Content-Length"] = str(mask.size_bytes)
        response["ETag"] = etag
        response["X-Mask-Version"] = str(version)
        response["Cache-Control"] = IMMUTABLE_CACHE if requested is not None else "private, no-cache"
        response["Content-Disposition"] = f'inline; filename="{case.external_id}_{kind}_v{version}.nii.gz"'
        return response

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY, "application/gzip": OpenApiTypes.BINARY},
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=True)],
        responses={
            200: s.MaskSaveResultSerializer,
            400: OpenApiResponse(description="Not a NIfTI mask for this case"),
            409: OpenApiResponse(description="Stale version; the body names the current one"),
            428: OpenApiResponse(description="If-Match missing"),
        },
        description="Save a new version. The body is the NIfTI (.nii or .nii.gz) exactly as GET returned it, edited.",
    )
    def put(self, request: Request, case_id: int, kind: str) -> Response:
        case = get_case(request, case_id)
        kind = _mask_kind(kind)
        expected = parse_if_match(request.headers.get("If-Match"))
        body = request.data if isinstance(request.data, bytes) else b""
        result = mask_save(case=case, kind=kind, data=body, expected_version=expected, user=request.user)
        mask = result.mask
        payload = {
            "version": mask.version,
            "counts": mask.counts,
            "diff": mask.diff if result.created else {},
            "created": result.created,
        }
        return Response(payload, headers={"ETag": f'"{mask.version}"'})


class MaskVersionList(generics.ListAPIView):
    serializer_class = s.MaskVersionSerializer

    def get_queryset(self) -> QuerySet[MaskVersion]:
        if getattr(self, "swagger_fake_view", False):
            return MaskVersion.objects.none()
        case = get_case(self.request, self.kwargs["case_id"])
        kind = _mask_kind(self.kwargs["kind"])
        return MaskVersion.objects.filter(case=case, kind=kind).select_related("author", "parent").order_by("-version")


# --- reports and reviews -----------------------------------------------------------------------------


class ReportDetail(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        parameters=[OpenApiParameter("version", int, description="An older version; the latest when omitted.")],
        responses=s.ReportSerializer,
    )
    def get(self, request: Request, case_id: int) -> Response:
        case = get_case(request, case_id)
        requested = request.query_params.get("version")
        if requested is not None:
            if not requested.isdigit():
                raise InvalidInput("version must be a whole number.")
            report = get_object_or_404(ReportVersion, case=case, version=int(requested))
        else:
            report = report_latest(case)
        if report is None:
            data = {
                "version": 0,
                "parent_version": None,
                "source": None,
                "model_version": None,
                "author": None,
                "created_at": None,
                "comment": "",
                "sentences": [],
            }
            return Response(data, headers={"ETag": '"0"'})
        report = (
            ReportVersion.objects.select_related("author", "parent").prefetch_related("sentences").get(pk=report.pk)
        )
        return Response(s.ReportSerializer(report).data, headers={"ETag": f'"{report.version}"'})

    @extend_schema(
        request=s.ReportWriteSerializer,
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=True)],
        responses={200: s.ReportSerializer, 409: OpenApiResponse(description="Stale version"), 428: None},
    )
    def put(self, request: Request, case_id: int) -> Response:
        case = get_case(request, case_id)
        expected = parse_if_match(request.headers.get("If-Match"))
        body = s.ReportWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = report_save(
            case=case,
            sentences=[dict(x) for x in body.validated_data["sentences"]],
            expected_version=expected,
            user=request.user,
            comment=body.validated_data.get("comment", ""),
        )
        report = (
            ReportVersion.objects.select_related("author", "parent").prefetch_related("sentences").get(pk=report.pk)
        )
        return Response(s.ReportSerializer(report).data, headers={"ETag": f'"{report.version}"'})


class ReportVersionList(generics.ListAPIView):
    serializer_class = s.ReportVersionSummarySerializer

    def get_queryset(self) -> QuerySet[ReportVersion]:
        if getattr(self, "swagger_fake_view", False):
            return ReportVersion.objects.none()
        case = get_case(self.request, self.kwargs["case_id"])
        return ReportVersion.objects.filter(case=case).select_related("author").order_by("-version")


class CaseReview(APIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(request=s.ReviewWriteSerializer, responses={201: s.ReviewSerializer})
    def post(self, request: Request, case_id: int) -> Response:
        case = get_case(request, case_id)
        body = s.ReviewWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = case_review(case=case, user=request.user, **body.validated_data)
        return Response(s.ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class ReviewList(generics.ListAPIView):
    serializer_class = s.ReviewSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Review]:
        if getattr(self, "swagger_fake_view", False):
            return Review.objects.none()
        case = get_case(self.request, self.kwargs["case_id"])
        return Review.objects.filter(case=case).select_related("author").order_by("created_at", "id")
