from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Models and jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from annotations.services.reports import register_consistency_checker
        from inference.services.active_learning import register_builtin_orderings
        from inference.services.consistency import check_case_sentences

        register_builtin_orderings()
        register_consistency_checker(check_case_sentences)
