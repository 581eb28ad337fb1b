from django.urls import include, path

from annotations.api import views

urlpatterns = [
    path("label-schemas/", views.LabelSchemaList.as_view(), name="label-schema-list"),
    path("label-schemas/<slug:slug>/", views.LabelSchemaDetail.as_view(), name="label-schema-detail"),
    path("projects/", views.ProjectList.as_view(), name="project-list"),
    path("projects/<int:project_id>/", views.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:project_id>/members/", views.MemberList.as_view(), name="member-list"),
    path("projects/<int:project_id>/members/<int:user_id>/", views.MemberDetail.as_view(), name="member-detail"),
    path("projects/<int:project_id>/cases/", views.CaseList.as_view(), name="case-list"),
    path("projects/<int:project_id>/next-case", views.NextCase.as_view(), name="next-case"),
    path("cases/<int:case_id>/", views.CaseDetail.as_view(), name="case-detail"),
    path("cases/<int:case_id>/volumes/<str:modality>", views.VolumeFile.as_view(), name="volume-file"),
    path("cases/<int:case_id>/preview.png", views.CasePreview.as_view(), name="case-preview"),
    path("cases/<int:case_id>/masks/<str:kind>", views.MaskFile.as_view(), name="mask-file"),
    path("cases/<int:case_id>/masks/<str:kind>/versions/", views.MaskVersionList.as_view(), name="mask-versions"),
    path("cases/<int:case_id>/report", views.ReportDetail.as_view(), name="report"),
    path("cases/<int:case_id>/report/versions/", views.ReportVersionList.as_view(), name="report-versions"),
    path("cases/<int:case_id>/review", views.CaseReview.as_view(), name="case-review"),
    path("cases/<int:case_id>/reviews/", views.ReviewList.as_view(), name="case-reviews"),
    path("", include("annotations.api.export_urls")),
]
