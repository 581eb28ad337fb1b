"""Admin: browse everything, change little. Versions and the audit trail are read-only by design."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from annotations import models as m


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LabelInline(admin.TabularInline):
    model = m.Label
    extra = 0


@admin.register(m.LabelSchema)
class LabelSchemaAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "builtin"]
    inlines = [LabelInline]


class MembershipInline(admin.TabularInline):
    model = m.Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(m.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "label_schema", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(m.Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["external_id", "project", "status", "split", "assignee", "priority", "updated_at"]
    list_filter = ["project", "status", "split"]
    search_fields = ["external_id"]
    list_select_related = ["project", "assignee"]
    readonly_fields = [
        "reference_modality",
        "shape",
        "affine",
        "orientation",
        "modalities",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted_by",
    ]
    raw_id_fields = ["assignee", "last_editor"]


@admin.register(m.Volume)
class VolumeAdmin(ReadOnlyAdmin):
    list_display = ["case", "modality", "orientation", "size_bytes"]
    list_select_related = ["case"]


@admin.register(m.MaskVersion)
class MaskVersionAdmin(ReadOnlyAdmin):
    list_display = ["case", "kind", "version", "source", "author", "created_at"]
    list_filter = ["kind", "source"]
    list_select_related = ["case", "author"]


class SentenceInline(admin.TabularInline):
    model = m.Sentence
    extra = 0
    fields = ["order", "text", "status", "region_label_ids", "lesion_component"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(m.ReportVersion)
class ReportVersionAdmin(ReadOnlyAdmin):
    list_display = ["case", "version", "source", "author", "created_at"]
    list_select_related = ["case", "author"]
    inlines = [SentenceInline]


@admin.register(m.Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["case", "action", "author", "created_at"]


@admin.register(m.AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "verb", "project", "case", "object_type", "object_id"]
    list_filter = ["verb"]


@admin.register(m.DatasetSnapshot)
class DatasetSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["project", "checksum", "n_cases", "created_at"]
