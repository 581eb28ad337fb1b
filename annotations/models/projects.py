from django.conf import settings
from django.db import models

MODALITIES = ("T1", "T1CE", "T2", "FLAIR", "DWI", "ADC")


class Role(models.TextChoices):
    """Project roles, strongest first. Each role can do everything the ones below it can."""

    ADMIN = "admin", "admin"
    REVIEWER = "reviewer", "reviewer"
    ANNOTATOR = "annotator", "annotator"
    VIEWER = "viewer", "viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.ANNOTATOR: 1, Role.REVIEWER: 2, Role.ADMIN: 3}


def default_modalities() -> list[str]:
    return list(MODALITIES)


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    label_schema = models.ForeignKey("annotations.LabelSchema", on_delete=models.PROTECT, related_name="projects")
    expected_modalities = models.JSONField(default=default_modalities)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="annotations.Membership", related_name="projects"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"
