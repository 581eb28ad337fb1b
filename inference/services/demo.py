"""The demo project's model: the committed checkpoint, made by the project's own training command."""

from __future__ import annotations

from pathlib import Path

from annotations.models import Project
from inference.models import ModelStage, ModelVersion
from inference.services.models import model_promote, model_register

DEMO_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "demo-model.pt"


def demo_model_install(*, project: Project) -> str:
    """Register the committed demo model as champion and queue its proposals (once)."""
    if ModelVersion.objects.filter(project=project, stage=ModelStage.CHAMPION).exists():
        return ""
    if not DEMO_WEIGHTS.exists():
        return f"no demo model at {DEMO_WEIGHTS}; train one with the command in inference/weights/README.md"
    model = model_register(project=project, data=DEMO_WEIGHTS.read_bytes(), name="demo model (synthetic data)")
    # Promotion queues the proposals for every case nobody has started on.
    model_promote(model=model, user=None, reason="initial model, trained on synthetic demo data")
    return f"registered {model.name} as champion; the worker is proposing masks and reports for every case"
