from django.apps import AppConfig


class BrainscribeConfig(AppConfig):
    name = "brainscribe"
    verbose_name = "Brainscribe"
