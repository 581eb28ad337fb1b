from django.conf import settings
from django.db import models


class ReviewAction(models.TextChoices):
    SUBMIT = "submit", "submit"
    APPROVE = "approve", "approve"
    REJECT = "reject", "reject"
    REOPEN = "reopen", "reopen"


class Review(models.Model):
    """A review decision, pinned to the exact mask and report versions it was made on."""

    case = models.ForeignKey("annotations.Case", on_delete=models.CASCADE, related_name="reviews")
    action = models.CharField(max_length=16, choices=ReviewAction.choices)
    comment = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    mask_versions = models.JSONField(default=dict, help_text="{kind: version} at the time of the decision.")
    report_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["case", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.case} {self.action}"
