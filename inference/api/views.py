from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.views import get_project
from annotations.errors import InvalidInput
from annotations.selectors import projects_for_user
from inference.api.serializers import (
    JobSerializer,
    JobWriteSerializer,
    ModelUploadSerializer,
    ModelVersionSerializer,
    PromoteSerializer,
)
from inference.models import Job, ModelVersion
from inference.services.jobs import job_cancel, job_create
from inference.services.models import model_promote, model_register


def jobs_for_user(request: Request) -> QuerySet[Job]:
    if request.user.is_superuser:
        return Job.objects.all()
    return Job.objects.filter(
        Q(project__in=projects_for_user(request.user)) | Q(project__isnull=True, created_by=request.user)
    )


class ProjectJobList(generics.ListAPIView):
    serializer_class = JobSerializer

    def get_queryset(self) -> QuerySet[Job]:
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        project = get_project(self.request, self.kwargs["project_id"])
        qs = Job.objects.filter(project=project).select_related("created_by")
        if self.request.query_params.get("type"):
            qs = qs.filter(type=self.request.query_params["type"])
        return qs.order_by("-created_at", "-id")

    @extend_schema(request=JobWriteSerializer, responses={202: JobSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project = get_project(request, project_id)
        body = JobWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = job_create(project=project, user=request.user, **body.validated_data)
        job.refresh_from_db()
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobDetail(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(jobs_for_user(request).select_related("created_by"), pk=job_id)
        return Response(JobSerializer(job).data)


class JobCancel(APIView):
    @extend_schema(request=None, responses=JobSerializer)
    def post(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(jobs_for_user(request), pk=job_id)
        return Response(JobSerializer(job_cancel(job=job, user=request.user)).data)


class ProjectModelList(generics.ListAPIView):
    serializer_class = ModelVersionSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self) -> QuerySet[ModelVersion]:
        if getattr(self, "swagger_fake_view", False):
            return ModelVersion.objects.none()
        project = get_project(self.request, self.kwargs["project_id"])
        return ModelVersion.objects.filter(project=project).select_related("promoted_by").order_by("-created_at")

    @extend_schema(request={"multipart/form-data": ModelUploadSerializer}, responses={201: ModelVersionSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project = get_project(request, project_id)
        body = ModelUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["checkpoint"]
        if upload.size > 2 * 1024**3:
            raise InvalidInput("Checkpoints larger than 2 GB are not accepted.")
        model = model_register(
            project=project, data=upload.read(), name=body.validated_data.get("name", ""), user=request.user
        )
        return Response(ModelVersionSerializer(model).data, status=status.HTTP_201_CREATED)


def get_model(request: Request, model_id: int) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.filter(project__in=projects_for_user(request.user)).select_related("project"),
        pk=model_id,
    )


class ModelDetail(APIView):
    @extend_schema(responses=ModelVersionSerializer)
    def get(self, request: Request, model_id: int) -> Response:
        return Response(ModelVersionSerializer(get_model(request, model_id)).data)


class ModelPromote(APIView):
    @extend_schema(
        request=PromoteSerializer,
        responses=ModelVersionSerializer,
        description="Make this model the champion. It must beat the champion on validation, unless an "
        "admin gives a reason. The new champion then re-proposes every case nobody has started on.",
    )
    def post(self, request: Request, model_id: int) -> Response:
        model = get_model(request, model_id)
        body = PromoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(
            ModelVersionSerializer(
                model_promote(model=model, user=request.user, reason=body.validated_data["reason"])
            ).data
        )
