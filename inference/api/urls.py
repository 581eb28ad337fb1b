from django.urls import path

from inference.api import views

urlpatterns = [
    path("projects/<int:project_id>/jobs/", views.ProjectJobList.as_view(), name="job-list"),
    path("jobs/<int:job_id>/", views.JobDetail.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/cancel", views.JobCancel.as_view(), name="job-cancel"),
    path("projects/<int:project_id>/models/", views.ProjectModelList.as_view(), name="model-list"),
    path("models/<int:model_id>/", views.ModelDetail.as_view(), name="model-detail"),
    path("models/<int:model_id>/promote", views.ModelPromote.as_view(), name="model-promote"),
]
