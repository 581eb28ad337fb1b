"""Export endpoints: list a project's exports, read one (with its manifest), download its archive.

Exports are started as jobs (``POST /api/projects/{id}/jobs/`` with type ``export``); these views
read them, and let a project admin delete an export's files (``DELETE /api/exports/{id}/``). Any
member of the project may list and download: an archive holds nothing a viewer cannot already
read case by case, and non-members get 404, as everywhere else.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.serializers import UserRefSerializer
from annotations.api.views import get_project
from annotations.errors import Gone, StateConflict
from annotations.exporters.jobs import DOWNLOAD_PATH
from annotations.models import DatasetSnapshot, Export
from annotations.selectors import projects_for_user
from annotations.services.exports import export_delete_files


class SnapshotRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = DatasetSnapshot
        fields = ["id", "checksum", "n_cases", "created_at"]


class ExportSerializer(serializers.ModelSerializer):
    snapshot = SnapshotRefSerializer(read_only=True)
    created_by = UserRefSerializer(read_only=True)
    status = serializers.SerializerMethodField(help_text="ready, queued, running, failed, cancelled or deleted.")
    files_deleted_by = UserRefSerializer(read_only=True)
    download_url = serializers.SerializerMethodField()
    params = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "project",
            "format",
            "status",
            "snapshot",
            "job",
            "params",
            "n_files",
            "total_bytes",
            "manifest_sha256",
            "download_url",
            "created_by",
            "created_at",
            "finished_at",
            "files_deleted_at",
            "files_deleted_by",
        ]

    def get_status(self, export: Export) -> str:
        if export.files_deleted_at is not None:
            return "deleted"
        if export.archive:
            return "ready"
        return export.job.status if export.job is not None else "failed"

    def get_download_url(self, export: Export) -> str | None:
        return DOWNLOAD_PATH.format(id=export.pk) if export.archive else None

    def get_params(self, export: Export) -> dict[str, Any]:
        return export.job.params if export.job is not None else export.manifest.get("params", {})


class ExportDetailSerializer(ExportSerializer):
    class Meta(ExportSerializer.Meta):
        fields = [*ExportSerializer.Meta.fields, "manifest"]


def exports_for_user(request: Request) -> QuerySet[Export]:
    return Export.objects.filter(project__in=projects_for_user(request.user)).select_related(
        "snapshot", "job", "created_by", "project", "files_deleted_by"
    )


class ProjectExportList(generics.ListAPIView):
    serializer_class = ExportSerializer

    def get_queryset(self) -> QuerySet[Export]:
        if getattr(self, "swagger_fake_view", False):
            return Export.objects.none()
        project = get_project(self.request, self.kwargs["project_id"])
        qs = Export.objects.filter(project=project).select_related("snapshot", "job", "created_by", "files_deleted_by")
        if self.request.query_params.get("format"):
            qs = qs.filter(format=self.request.query_params["format"])
        return qs.order_by("-created_at", "-id")


class ExportDetail(APIView):
    @extend_schema(responses=ExportDetailSerializer)
    def get(self, request: Request, export_id: int) -> Response:
        export = get_object_or_404(exports_for_user(request), pk=export_id)
        return Response(ExportDetailSerializer(export).data)

    @extend_schema(
        responses=ExportDetailSerializer,
        description="Delete the export's files (project admins). The record, its manifest and its snapshot "
        "stay; downloads then answer 410. Deleting again changes nothing.",
    )
    def delete(self, request: Request, export_id: int) -> Response:
        export = get_object_or_404(exports_for_user(request), pk=export_id)
        export = export_delete_files(export=export, user=request.user)
        return Response(ExportDetailSerializer(export).data)


class ExportDownload(APIView):
    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            409: OpenApiResponse(description="The export is not finished (or failed); the body says which."),
            410: OpenApiResponse(description="The export's files were deleted; the body says when and by whom."),
        },
        description="The export's zip archive: the dataset files plus manifest.json (sha256 of every file and "
        "the snapshot they came from).",
    )
    def get(self, request: Request, export_id: int) -> FileResponse:
        export = get_object_or_404(exports_for_user(request), pk=export_id)
        if export.files_deleted_at is not None:
            who = export.files_deleted_by.username if export.files_deleted_by is not None else "the retention policy"
            raise Gone(
                f"Export {export.pk}'s files were deleted on {export.files_deleted_at:%Y-%m-%d %H:%M} UTC by {who}; "
                f"its manifest is kept, and snapshot {export.snapshot_id} can be exported again."
            )
        if not export.archive:
            state = export.job.status if export.job is not None else "failed"
            raise StateConflict(
                f"Export {export.pk} has no archive yet: its job is {state}.",
                job_id=export.job_id,
            )
        filename = export.archive.rsplit("/", 1)[-1]
        response = FileResponse(
            default_storage.open(export.archive, "rb"),
            as_attachment=True,
            filename=filename,
            content_type="application/zip",
        )
        response["Content-Length"] = str(default_storage.size(export.archive))
        response["Cache-Control"] = "private, max-age=3600"
        return response
