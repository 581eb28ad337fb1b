"""Export endpoints, included by ``annotations/api/urls.py`` under ``/api/``."""

from django.urls import path

from annotations.api import exports

urlpatterns = [
    path("projects/<int:project_id>/exports/", exports.ProjectExportList.as_view(), name="export-list"),
    path("exports/<int:export_id>/", exports.ExportDetail.as_view(), name="export-detail"),
    path("exports/<int:export_id>/download", exports.ExportDownload.as_view(), name="export-download"),
]
