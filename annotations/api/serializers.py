"""Shapes of the case-store API. Read and write shapes are separate where they differ."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from annotations.models import (
    Case,
    Label,
    LabelSchema,
    MaskVersion,
    Membership,
    Project,
    ReportVersion,
    Review,
    Role,
    Sentence,
    SentenceKind,
    SentenceStatus,
    Split,
    Volume,
)
from annotations.models.projects import MODALITIES


class UserRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["kind", "index", "name", "side", "coarse_region", "color"]


class LabelSchemaSerializer(serializers.ModelSerializer):
    labels = LabelSerializer(many=True, read_only=True)

    class Meta:
        model = LabelSchema
        fields = ["slug", "name", "description", "builtin", "labels"]


class ProjectReadSerializer(serializers.ModelSerializer):
    label_schema = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "description", "label_schema", "expected_modalities", "created_at", "role"]

    def get_role(self, project: Project) -> str | None:
        roles: dict[int, str] = self.context.get("roles", {})
        return roles.get(project.pk)


class ProjectWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    label_schema = serializers.SlugField(max_length=64)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    expected_modalities = serializers.ListField(
        child=serializers.ChoiceField(choices=MODALITIES), required=False, allow_empty=False
    )


class ProjectUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True)
    expected_modalities = serializers.ListField(
        child=serializers.ChoiceField(choices=MODALITIES), required=False, allow_empty=False
    )


class MembershipSerializer(serializers.ModelSerializer):
    user = UserRefSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "role", "created_at"]


class MembershipWriteSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class CaseListSerializer(serializers.ModelSerializer):
    assignee = UserRefSerializer(read_only=True)
    last_editor = UserRefSerializer(read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "external_id",
            "status",
            "split",
            "assignee",
            "priority",
            "priority_strategy",
            "modalities",
            "reference_modality",
            "created_at",
            "updated_at",
            "last_editor",
        ]


class VolumeSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Volume
        fields = ["modality", "url", "sha256", "size_bytes", "shape", "spacing", "orientation", "dtype", "affine"]

    def get_url(self, volume: Volume) -> str:
        return f"/api/cases/{volume.case_id}/volumes/{volume.modality}"


class MaskVersionSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)
    url = serializers.SerializerMethodField()
    parent_version = serializers.IntegerField(source="parent.version", read_only=True, allow_null=True, default=None)

    class Meta:
        model = MaskVersion
        fields = [
            "kind",
            "version",
            "parent_version",
            "source",
            "model_version",
            "author",
            "created_at",
            "counts",
            "diff",
            "comment",
            "sha256",
            "size_bytes",
            "url",
        ]

    def get_url(self, mask: MaskVersion) -> str:
        return f"/api/cases/{mask.case_id}/masks/{mask.kind}?version={mask.version}"


class CaseDetailSerializer(CaseListSerializer):
    project = serializers.PrimaryKeyRelatedField(read_only=True)
    volumes = VolumeSerializer(many=True, read_only=True)
    masks = serializers.SerializerMethodField()
    report_version = serializers.SerializerMethodField()
    shape = serializers.JSONField(read_only=True)
    affine = serializers.JSONField(read_only=True)

    class Meta(CaseListSerializer.Meta):
        fields = CaseListSerializer.Meta.fields + [
            "project",
            "shape",
            "affine",
            "orientation",
            "volumes",
            "masks",
            "report_version",
        ]

    def get_masks(self, case: Case) -> dict[str, Any]:
        latest: dict[str, MaskVersion] = self.context["latest_masks"]
        return {kind: MaskVersionSerializer(mask).data for kind, mask in latest.items()}

    def get_report_version(self, case: Case) -> int:
        return self.context["report_version"]


class CaseCreateSerializer(serializers.Serializer):
    """Documented shape of the multipart upload (the view reads files by modality name)."""

    external_id = serializers.CharField(max_length=128)
    reference = serializers.ChoiceField(choices=MODALITIES, required=False)
    split = serializers.ChoiceField(choices=Split.choices, required=False)
    T1 = serializers.FileField(required=False)
    T1CE = serializers.FileField(required=False)
    T2 = serializers.FileField(required=False)
    FLAIR = serializers.FileField(required=False)
    DWI = serializers.FileField(required=False)
    ADC = serializers.FileField(required=False)
    lesion = serializers.FileField(required=False)
    structure = serializers.FileField(required=False)


class CaseUpdateSerializer(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), allow_null=True, required=False
    )
    split = serializers.ChoiceField(choices=Split.choices, required=False)
    priority = serializers.FloatField(allow_null=True, required=False)


class MaskSaveResultSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    diff = serializers.DictField()
    created = serializers.BooleanField()


class SentenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sentence
        fields = [
            "key",
            "order",
            "text",
            "kind",
            "modality",
            "region_label_ids",
            "lesion_component",
            "source",
            "status",
            "original_text",
            "features",
            "warnings",
        ]


class SentenceWriteSerializer(serializers.Serializer):
    key = serializers.UUIDField(required=False, allow_null=True)
    text = serializers.CharField()
    kind = serializers.ChoiceField(choices=SentenceKind.choices, required=False)
    modality = serializers.CharField(required=False, allow_blank=True)
    region_label_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    lesion_component = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    status = serializers.ChoiceField(choices=SentenceStatus.choices, required=False)


class ReportSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)
    sentences = SentenceSerializer(many=True, read_only=True)
    parent_version = serializers.IntegerField(source="parent.version", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ReportVersion
        fields = [
            "version",
            "parent_version",
            "source",
            "model_version",
            "author",
            "created_at",
            "comment",
            "sentences",
        ]


class ReportVersionSummarySerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)

    class Meta:
        model = ReportVersion
        fields = ["version", "source", "model_version", "author", "created_at", "comment"]


class ReportWriteSerializer(serializers.Serializer):
    sentences = SentenceWriteSerializer(many=True)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ReviewSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "action",
            "comment",
            "author",
            "created_at",
            "from_status",
            "to_status",
            "mask_versions",
            "report_version",
        ]


class ReviewWriteSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["submit", "approve", "reject", "reopen"])
    comment = serializers.CharField(required=False, allow_blank=True, default="")
