"""Learning-curve figure for a training run (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inference.ml.training import EpochRecord


def plot_learning_curve(history: Sequence[EpochRecord], path: str | Path, *, title: str = "") -> Path:
    """Training loss and validation Dice per epoch, side by side, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    epochs = [r.epoch for r in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [r.train_loss for r in history], label="total")
    left.plot(epochs, [r.structure_loss for r in history], label="structure", alpha=0.7)
    left.plot(epochs, [r.lesion_loss for r in history], label="lesion", alpha=0.7)
    left.set_xlabel("epoch")
    left.set_ylabel("Dice + cross-entropy loss")
    left.set_title("training loss")
    left.legend()
    for attr, label in (("val_structure_dice", "mean structure Dice"), ("val_lesion_dice", "lesion Dice")):
        points = [(r.epoch, getattr(r, attr)) for r in history if getattr(r, attr) is not None]
        if points:
            right.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=label)
    right.set_ylim(0, 1)
    right.set_xlabel("epoch")
    right.set_title("validation (model grid)")
    right.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
