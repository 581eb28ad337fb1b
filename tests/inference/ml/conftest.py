"""Tiny synthetic heads for the ML tests: an ellipsoid brain split into four structures and one
lesion with an enhancing core and oedema, at 1 mm. Small enough to train a model in seconds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from inference.ml.config import SegmentationConfig
from inference.ml.datasets import TrainingCase
from inference.ml.schema import LabelSchema, schema_from_rows

SHAPE = (48, 56, 48)
TINY_SCHEMA_ROWS = [
    (1, "frontal lobe L", "left", "frontal lobe"),
    (2, "frontal lobe R", "right", "frontal lobe"),
    (3, "parietal lobe L", "left", "parietal lobe"),
    (4, "parietal lobe R", "right", "parietal lobe"),
]
TINY_CONFIG = SegmentationConfig(
    modalities=("T1", "T2", "FLAIR"),
    spacing_mm=(2.0, 2.0, 2.0),
    channels=(8, 16, 32),
    strides=(2, 2),
    num_res_units=1,
    head_features=8,
    dropout=0.0,
    patch_size=(32, 32, 32),
    grid_margin_mm=4.0,
    batch_size=2,
    learning_rate=1e-2,
    modality_dropout=0.2,
    epochs=4,
    min_lesion_volume_mm3=10.0,
)
CONTRAST = {  # background brain, oedema, enhancing core
    "T1": (0.8, 0.6, 0.45),
    "T2": (0.5, 0.8, 0.95),
    "FLAIR": (0.5, 0.95, 0.75),
}


@dataclass
class SyntheticCase:
    volumes: dict[str, nib.Nifti1Image]
    structure: nib.Nifti1Image
    lesion: nib.Nifti1Image


def ras_affine(shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, 3] = -(np.array(shape) - 1) / 2.0
    return affine


def make_case(seed: int, *, lesion_side: str | None = None) -> SyntheticCase:
    """World-space anatomy: x < 0 is left, y > 0 anterior (frontal), the brain centred at 0."""
    rng = np.random.default_rng(seed)
    affine = ras_affine()
    idx = np.indices(SHAPE).reshape(3, -1).T
    world = (affine[:3, :3] @ idx.T).T + affine[:3, 3]
    x, y, z = (world[:, i].reshape(SHAPE) for i in range(3))
    radii = np.array([19.0, 23.0, 19.0]) * rng.uniform(0.92, 1.05, size=3)
    brain = (x / radii[0]) ** 2 + (y / radii[1]) ** 2 + (z / radii[2]) ** 2 <= 1.0
    split_y = rng.uniform(-3, 3)
    structure = np.zeros(SHAPE, dtype=np.uint8)
    left, anterior = x < 0, y > split_y
    structure[brain & left & anterior] = 1
    structure[brain & ~left & anterior] = 2
    structure[brain & left & ~anterior] = 3
    structure[brain & ~left & ~anterior] = 4

    side = lesion_side or ("left" if rng.random() < 0.5 else "right")
    cx = rng.uniform(6, 11) * (-1 if side == "left" else 1)
    center = np.array([cx, rng.uniform(-10, 10), rng.uniform(-6, 6)])
    r_core = rng.uniform(3.0, 4.5)
    r_edema = r_core + rng.uniform(2.5, 4.0)
    dist = np.sqrt((x - center[0]) ** 2 + (y - center[1]) ** 2 + (z - center[2]) ** 2)
    lesion = np.zeros(SHAPE, dtype=np.uint8)
    lesion[(dist <= r_edema) & brain] = 2
    lesion[(dist <= r_core) & brain] = 3

    volumes = {}
    for name, (normal, edema, core) in CONTRAST.items():
        data = np.where(brain, normal, 0.0)
        data = np.where(lesion == 2, edema, data)
        data = np.where(lesion == 3, core, data)
        data = data * rng.uniform(0.8, 1.2) * 1000.0
        data = np.where(brain, data + rng.normal(0, 15.0, SHAPE), 0.0).astype(np.float32)
        volumes[name] = nib.Nifti1Image(data, affine)
    return SyntheticCase(volumes, nib.Nifti1Image(structure, affine), nib.Nifti1Image(lesion, affine))


def to_las(image: nib.Nifti1Image) -> nib.Nifti1Image:
    """Same anatomy, stored with the first axis flipped (radiological LAS orientation)."""
    data = np.asarray(image.dataobj)[::-1].copy()
    flip = np.eye(4)
    flip[0, 0] = -1
    flip[0, 3] = image.shape[0] - 1
    return nib.Nifti1Image(data, image.affine @ flip)


def oblique_affine(affine: np.ndarray, degrees: tuple[float, float, float] = (12.0, -9.0, 15.0)) -> np.ndarray:
    """Rotate the voxel grid about the world origin (the brain centre)."""
    ax, ay, az = np.deg2rad(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    rotation = np.eye(4)
    rotation[:3, :3] = rz @ ry @ rx
    return rotation @ affine


def resample_onto(image: nib.Nifti1Image, affine: np.ndarray, shape: tuple[int, ...], order: int) -> nib.Nifti1Image:
    """Sample the same world-space content on another grid (what an oblique acquisition stores)."""
    mapping = np.linalg.inv(image.affine) @ affine
    data = np.asarray(image.dataobj)
    out = ndimage.affine_transform(
        data.astype(np.float32) if order else data, mapping[:3, :3], mapping[:3, 3], output_shape=shape, order=order
    )
    return nib.Nifti1Image(out.astype(data.dtype), affine)


def to_oblique(case: SyntheticCase, pad: int = 8) -> SyntheticCase:
    """A rotated acquisition grid around the same head, large enough to keep the whole head in view."""
    shape = tuple(n + 2 * pad for n in SHAPE)
    shift = np.eye(4)
    shift[:3, 3] = -pad
    affine = oblique_affine(case.structure.affine @ shift)
    volumes = {name: resample_onto(img, affine, shape, order=1) for name, img in case.volumes.items()}
    return SyntheticCase(
        volumes, resample_onto(case.structure, affine, shape, 0), resample_onto(case.lesion, affine, shape, 0)
    )


def write_case(case: SyntheticCase, folder: Path, case_id: str) -> TrainingCase:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, image in case.volumes.items():
        paths[name] = folder / f"{name}.nii.gz"
        nib.save(image, paths[name])
    nib.save(case.structure, folder / "structure.nii.gz")
    nib.save(case.lesion, folder / "lesion.nii.gz")
    return TrainingCase(case_id, paths, folder / "structure.nii.gz", folder / "lesion.nii.gz")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return 2.0 * (a & b).sum() / max(1, a.sum() + b.sum())


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny tensors gain nothing from threads, and on a busy machine two threads thrash."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_schema() -> LabelSchema:
    return schema_from_rows("tiny-test", TINY_SCHEMA_ROWS)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> list[TrainingCase]:
    # Like the demo data, a few training cases are stored LAS or oblique.
    root = tmp_path_factory.mktemp("tiny-dataset")
    stored = {
        3: lambda c: SyntheticCase({k: to_las(v) for k, v in c.volumes.items()}, to_las(c.structure), to_las(c.lesion)),
        4: to_oblique,
    }
    cases = []
    for seed in range(6):
        case = stored.get(seed, lambda c: c)(make_case(seed))
        cases.append(write_case(case, root / f"case{seed:02d}", f"case{seed:02d}"))
    return cases


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory, tiny_dataset, tiny_schema) -> Path:
    """A tiny model overfitted to the synthetic heads (trained once per test session)."""
    from inference.ml.training import train

    out = tmp_path_factory.mktemp("tiny-model")
    config = TINY_CONFIG.replace(epochs=80, patch_size=(16, 16, 16), learning_rate=5e-3, validate_every=20)
    result = train(config, tiny_dataset, out, schema=tiny_schema, val_cases=tiny_dataset[-1:])
    return result.best_checkpoint
