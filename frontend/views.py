"""Server-rendered pages. They render a shell; the data arrive from the REST API the scripts call."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotations.selectors import projects_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = projects_for_user(request.user).order_by("name")
    return render(request, "frontend/home.html", {"projects": projects})
