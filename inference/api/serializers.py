from rest_framework import serializers

from annotations.api.serializers import UserRefSerializer
from inference.models import Job, ModelVersion


class JobSerializer(serializers.ModelSerializer):
    created_by = UserRefSerializer(read_only=True)
    dispatched = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "project",
            "type",
            "params",
            "status",
            "progress",
            "message",
            "log",
            "result",
            "error",
            "created_by",
            "created_at",
            "dispatched",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "attempts",
            "cancel_requested",
        ]

    def get_dispatched(self, job: Job) -> bool:
        return job.dispatched_at is not None


class JobWriteSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=16)
    params = serializers.JSONField(required=False, default=dict)


class ModelVersionSerializer(serializers.ModelSerializer):
    promoted_by = UserRefSerializer(read_only=True)
    validation_score = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "project",
            "name",
            "stage",
            "sha256",
            "metrics",
            "validation_score",
            "config",
            "training_job",
            "snapshot",
            "parent",
            "created_at",
            "promoted_at",
            "promoted_by",
            "promotion_reason",
        ]

    def get_validation_score(self, model: ModelVersion) -> float | None:
        from inference.services.models import selection_score

        return selection_score(model.metrics)


class ModelUploadSerializer(serializers.Serializer):
    checkpoint = serializers.FileField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class PromoteSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")
