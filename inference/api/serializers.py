from rest_framework import serializers

from annotations.api.serializers import UserRefSerializer
from inference.models import Job


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
