from django.contrib import admin

from inference.models import Job, ModelVersion


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "project", "status", "progress", "created_by", "created_at", "finished_at"]
    list_filter = ["type", "status"]
    readonly_fields = [f.name for f in Job._meta.fields]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "stage", "created_at", "promoted_at"]
    list_filter = ["stage"]
    readonly_fields = ["checkpoint", "sha256", "config", "metrics", "training_job", "snapshot", "created_at"]
