from django.db import models


class LabelKind(models.TextChoices):
    STRUCTURE = "structure", "anatomical structure"
    LESION = "lesion", "lesion"


class LabelSchema(models.Model):
    """A named label set: the structures a model segments plus the lesion labels."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    builtin = models.BooleanField(default=False, help_text="Shipped with Brainscribe and kept in sync by migrate.")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Label(models.Model):
    schema = models.ForeignKey(LabelSchema, on_delete=models.CASCADE, related_name="labels")
    kind = models.CharField(max_length=16, choices=LabelKind.choices)
    index = models.PositiveIntegerField(help_text="Voxel value in the mask of this kind (0 is background).")
    name = models.CharField(max_length=200)
    side = models.CharField(max_length=16, blank=True, help_text="left, right or midline; empty for lesions.")
    coarse_region = models.CharField(max_length=100, blank=True, help_text="The region word a report uses.")
    color = models.CharField(max_length=7, default="#808080")

    class Meta:
        ordering = ["schema", "kind", "index"]
        constraints = [
            models.UniqueConstraint(fields=["schema", "kind", "index"], name="label_unique_index_per_kind"),
            models.CheckConstraint(condition=models.Q(index__gt=0), name="label_index_not_background"),
        ]

    def __str__(self) -> str:
        return f"{self.schema.slug}:{self.kind}:{self.index} {self.name}"
