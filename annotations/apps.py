from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_schemas(sender: AppConfig, **kwargs: Any) -> None:
    from annotations.services.schemas import schema_sync_builtin

    schema_sync_builtin()


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Cases and annotations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Like Django's own permissions, the built-in label schemas follow the code on every migrate.
        post_migrate.connect(_sync_schemas, sender=self)
