from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="frontend/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/<int:project_id>/", views.worklist, name="worklist"),
    path("projects/<int:project_id>/models/", views.models_page, name="models"),
    path("projects/<int:project_id>/jobs/", views.jobs_page, name="jobs"),
    path("projects/<int:project_id>/exports/", views.exports_page, name="exports"),
    path("models/<int:model_id>/", views.model_page, name="model"),
    path("jobs/<int:job_id>/", views.job_page, name="job"),
    path("cases/<int:case_id>/", views.case_page, name="case"),
]
