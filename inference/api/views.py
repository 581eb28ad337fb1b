from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.views import get_project
from annotations.selectors import projects_for_user
from inference.api.serializers import JobSerializer, JobWriteSerializer
from inference.models import Job
from inference.services.jobs import job_cancel, job_create


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
