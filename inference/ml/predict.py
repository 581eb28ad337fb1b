"""Segment one case: load a checkpoint, run sliding-window inference, return native-grid masks.

The masks come back on the grid of the case's reference volume (shape and affine identical), so the
platform can store them beside the volumes and the browser overlays them without resampling.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from scipy import ndimage

from inference.ml.checkpoints import CheckpointMetadata, read_checkpoint
from inference.ml.config import SegmentationConfig
from inference.ml.networks import TwoHeadSegmenter, autocast, build_network, default_device, enable_mc_dropout
from inference.ml.postprocess import (
    keep_largest_structure_components,
    lesions_reaching,
    refine_lesions_to_images,
    remove_small_lesions,
)
from inference.ml.preprocess import Grid, PreparedCase, network_input, prepare_case, volume_data
from inference.ml.resample import NativeSampler, values_on_native_grid
from inference.ml.schema import LabelSchema


@dataclass
class SegmentationModel:
    network: TwoHeadSegmenter
    metadata: CheckpointMetadata
    device: torch.device

    @property
    def config(self) -> SegmentationConfig:
        return self.metadata.config

    @property
    def model_id(self) -> str:
        return self.metadata.model_id


def load_model(
    path: str | Path,
    *,
    expected_schema: LabelSchema | str | None = None,
    device: str | torch.device | None = None,
) -> SegmentationModel:
    """Read a checkpoint (weights only) and build its network; refuses another schema's model."""
    loaded = read_checkpoint(path, expected_schema=expected_schema)
    meta = loaded.metadata
    network = build_network(meta.config, len(meta.structure_label_ids) + 1, len(meta.lesion_label_ids) + 1)
    network.load_state_dict(loaded.model_state)
    target = torch.device(device) if device is not None else default_device()
    network.to(target).eval()
    return SegmentationModel(network, meta, target)


def sliding_window_logits(
    network: torch.nn.Module,
    inputs: torch.Tensor,
    config: SegmentationConfig,
    *,
    overlap: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, X, Y, Z) input → structure and lesion logits over the whole grid.

    ``overlap`` overrides the config's window overlap (inference settings stored at calibration).
    """
    from monai.inferers import sliding_window_inference

    def predictor(patch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with autocast(config, patch.device):
            structure, lesion = network(patch)
        return structure.float(), lesion.float()

    outputs = sliding_window_inference(
        inputs,
        roi_size=config.patch_size,
        sw_batch_size=1,
        predictor=predictor,
        overlap=config.overlap if overlap is None else overlap,
        mode="gaussian",
    )
    structure, lesion = outputs  # type: ignore[misc]
    return structure, lesion


@dataclass(frozen=True)
class InferenceSettings:
    """How a checkpoint is run: chosen on validation cases after training (``calibrate``) and
    stored in its ``postprocess`` metadata, so they change no weight and no model id."""

    lesion_threshold: float = 0.5  # p(any lesion) cut-off
    min_lesion_volume_mm3: float = SegmentationConfig.min_lesion_volume_mm3  # smaller components are dropped
    overlap: float = SegmentationConfig.overlap  # sliding-window overlap
    # Average the lesion head over the input and its left-right mirror image. Lesions have no
    # side, so the mirrored pass is a second opinion on every voxel; the structure head is
    # lateralised (left and right labels) and keeps the unmirrored pass. Calibration keeps it only
    # where it gains: a model that never saw mirrored heads can miss a lacune in the mirror image.
    mirror_lesion: bool = False
    # Drop lesion components with no voxel within this distance of the predicted brain (any
    # structure label); 0: keep all. With the skull on, the field of view holds scalp, orbits,
    # sinuses and the skull base, tissue the lesion head saw little of in training, and its false
    # positives land there. Lesions of the brain or its coverings touch the brain (a meningioma
    # sits on it), so a few millimetres keep them all.
    lesion_brain_reach_mm: float = 0.0
    # Move lesion borders onto the edges the images show at native resolution, within this many
    # millimetres of the network's border (0: off), and with ``lesion_refine_trim`` also pull them
    # in (``postprocess.refine_lesions_to_images``). The network's grid is coarser than most
    # scans, and a small lesion's border drawn on it misses the visible edge by a voxel all round.
    lesion_refine_margin_mm: float = 0.0
    lesion_refine_trim: bool = False

    @classmethod
    def of(cls, metadata: CheckpointMetadata) -> InferenceSettings:
        stored = metadata.postprocess
        config = metadata.config
        return cls(
            lesion_threshold=float(stored.get("lesion_threshold", cls.lesion_threshold)),
            min_lesion_volume_mm3=float(stored.get("min_lesion_volume_mm3", config.min_lesion_volume_mm3)),
            overlap=float(stored.get("overlap", config.overlap)),
            mirror_lesion=bool(stored.get("mirror_lesion", 0.0)),
            lesion_brain_reach_mm=float(stored.get("lesion_brain_reach_mm", 0.0)),
            lesion_refine_margin_mm=float(stored.get("lesion_refine_margin_mm", 0.0)),
            lesion_refine_trim=bool(stored.get("lesion_refine_trim", 0.0)),
        )


def _mirrored(inputs: torch.Tensor, n_image_channels: int) -> torch.Tensor:
    """The input with its image channels flipped left-right (axis 0 of the RAS model grid); the
    coordinate channels stay as they are, so the network sees a mirrored brain where a brain is."""
    flipped = inputs.clone()
    flipped[:, :n_image_channels] = torch.flip(inputs[:, :n_image_channels], dims=[2])
    return flipped


@dataclass(frozen=True)
class UncertaintySummary:
    """Per-case numbers an active-learning strategy can rank by (all on the model grid)."""

    mean_entropy_brain: float  # mean lesion-head predictive entropy over brain voxels (nats)
    mean_entropy_lesion: float  # the same over voxels predicted as lesion (0 when none)
    uncertain_volume_ml: float  # volume with 0.2 < p(lesion) < 0.8
    expected_lesion_volume_ml: float  # Σ p(lesion) · voxel volume
    mutual_information: float | None  # mean over brain voxels, only with MC-dropout samples
    samples: int  # forward passes averaged (1 without MC dropout)


@dataclass
class Prediction:
    structure: nib.Nifti1Image  # schema label indices on the reference volume's native grid
    lesion: nib.Nifti1Image  # lesion label indices (lesions.csv) on the same grid
    reference_modality: str
    missing_modalities: tuple[str, ...]
    uncertainty: UncertaintySummary
    model_id: str
    seconds: dict[str, float] = field(default_factory=dict)
    lesion_probability: np.ndarray | None = None  # p(lesion) on the model grid, when asked for
    model_grid: Grid | None = None


def _entropy(probabilities: torch.Tensor) -> torch.Tensor:
    return -(probabilities.clamp_min(1e-8).log() * probabilities).sum(0)


def _native_image(data: np.ndarray, reference: nib.Nifti1Image) -> nib.Nifti1Image:
    affine = np.asarray(reference.affine)
    image = nib.Nifti1Image(data, affine)
    header = reference.header
    image.set_qform(affine, code=int(header["qform_code"]) or 1)
    image.set_sform(affine, code=int(header["sform_code"]) or 1)
    image.header.set_xyzt_units("mm")
    return image


def images_on_grid(volumes: Mapping[str, nib.Nifti1Image], grid: Grid) -> dict[str, np.ndarray]:
    """Every volume's intensities on ``grid``: as stored where it shares the grid (the usual case
    for one series' sequences), trilinearly resampled through the affines where it does not."""
    images = {}
    for name, image in volumes.items():
        own = Grid.of(image)
        data = volume_data(image)
        if own.shape != grid.shape or not np.allclose(own.affine, grid.affine, atol=1e-4):
            data = values_on_native_grid(data, own, grid, order=1)
        if not np.isfinite(data).all():  # a copy: the caller's volume stays as it was
            data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
        images[name] = data
    return images


def _label_dtype(max_label: int) -> type[np.integer]:
    return np.uint8 if max_label <= 255 else np.uint16


def _drop_lesions_away_from_brain(
    structure_prob: torch.Tensor, lesion_prob: torch.Tensor, settings: InferenceSettings, config: SegmentationConfig
) -> None:
    """Set lesion components (at the settings' cut-off) beyond ``lesion_brain_reach_mm`` of the
    predicted brain to background, in place, with a voxel of margin so no rim survives the
    interpolation onto the native grid."""
    brain = (structure_prob.argmax(0) > 0).numpy()
    lesion = (1.0 - lesion_prob[0]).numpy() > settings.lesion_threshold
    reach = max(1, math.ceil(settings.lesion_brain_reach_mm / min(config.spacing_mm)))
    far = lesion & ~lesions_reaching(lesion, brain, reach_voxels=reach)
    if not far.any():
        return
    drop = torch.from_numpy(ndimage.binary_dilation(far, iterations=1))
    lesion_prob[:, drop] = 0.0
    lesion_prob[0, drop] = 1.0


def predict_prepared(
    model: SegmentationModel,
    case: PreparedCase,
    *,
    mc_samples: int = 0,
    settings: InferenceSettings | None = None,
) -> tuple[torch.Tensor, torch.Tensor, float | None]:
    """Softmax probabilities of both heads on the model grid (averaged over MC-dropout samples,
    and for the lesion head over the left-right mirror when the settings say so)."""
    config = model.config
    settings = settings or InferenceSettings.of(model.metadata)
    array = network_input(case.intensities, case.available, case.model_grid, case.center_mm, config)
    inputs = torch.from_numpy(array)[None].to(model.device)
    mirrored = _mirrored(inputs, 2 * len(config.modalities)) if settings.mirror_lesion else None
    passes = max(1, mc_samples)
    structure_sum: torch.Tensor | None = None
    lesion_sum: torch.Tensor | None = None
    lesion_entropy_sum: torch.Tensor | None = None
    if mc_samples > 0:
        enable_mc_dropout(model.network)
    else:
        model.network.eval()
    try:
        with torch.inference_mode():
            for _ in range(passes):
                s_logits, l_logits = sliding_window_logits(model.network, inputs, config, overlap=settings.overlap)
                s_prob = torch.softmax(s_logits[0].float(), 0).cpu()
                l_prob = torch.softmax(l_logits[0].float(), 0).cpu()
                if mirrored is not None:
                    _, m_logits = sliding_window_logits(model.network, mirrored, config, overlap=settings.overlap)
                    m_prob = torch.flip(torch.softmax(m_logits[0].float(), 0), dims=[1]).cpu()
                    l_prob = (l_prob + m_prob) / 2.0
                structure_sum = s_prob if structure_sum is None else structure_sum + s_prob
                lesion_sum = l_prob if lesion_sum is None else lesion_sum + l_prob
                if mc_samples > 0:
                    ent = _entropy(l_prob)
                    lesion_entropy_sum = ent if lesion_entropy_sum is None else lesion_entropy_sum + ent
    finally:
        model.network.eval()
    assert structure_sum is not None and lesion_sum is not None
    structure_prob = structure_sum / passes
    lesion_prob = lesion_sum / passes
    # Nothing is predicted outside the head: the network only ever saw a few millimetres of
    # background around the brain, and an oblique or large field of view holds far more.
    outside = torch.from_numpy(~ndimage.binary_dilation(case.brain_mask, iterations=1))
    for probabilities in (structure_prob, lesion_prob):
        probabilities[:, outside] = 0.0
        probabilities[0, outside] = 1.0
    if settings.lesion_brain_reach_mm > 0:
        _drop_lesions_away_from_brain(structure_prob, lesion_prob, settings, config)
    mutual_information = None
    if lesion_entropy_sum is not None:
        brain = torch.from_numpy(case.brain_mask)
        mi = _entropy(lesion_prob) - lesion_entropy_sum / passes
        mutual_information = float(mi[brain].mean()) if brain.any() else 0.0
    return structure_prob, lesion_prob, mutual_information


def predict_case(
    model: SegmentationModel,
    volumes: Mapping[str, nib.Nifti1Image],
    *,
    reference: str | None = None,
    mc_samples: int = 0,
    keep_probability: bool = False,
    lesion_threshold: float | None = None,
    mirror_lesion: bool | None = None,
) -> Prediction:
    """Segment structures and lesions of one case; any subset of the model's modalities will do.

    ``reference`` names the volume whose grid the masks are returned on (default: T1, else the
    first available in ``preprocess.REFERENCE_PREFERENCE``). ``mc_samples`` > 0 averages that many
    dropout-perturbed passes and reports their mutual information for active learning.
    ``lesion_threshold`` overrides the calibrated p(lesion) cut-off stored in the checkpoint, and
    ``mirror_lesion`` its choice of a left-right mirrored lesion pass.
    """
    config = model.config
    meta = model.metadata
    timings: dict[str, float] = {}
    start = time.perf_counter()
    case = prepare_case(volumes, config, reference=reference)
    timings["preprocess"] = time.perf_counter() - start

    start = time.perf_counter()
    settings = InferenceSettings.of(meta)
    if lesion_threshold is not None:
        settings = replace(settings, lesion_threshold=lesion_threshold)
    if mirror_lesion is not None:
        settings = replace(settings, mirror_lesion=mirror_lesion)
    structure_prob, lesion_prob, mutual_information = predict_prepared(
        model, case, mc_samples=mc_samples, settings=settings
    )
    timings["network"] = time.perf_counter() - start

    start = time.perf_counter()
    native = case.native_grid
    sampler = NativeSampler(case.model_grid, native)
    structure_channels = sampler.labels(structure_prob)
    p_background = lesion_prob[0]
    threshold = settings.lesion_threshold
    # Lesion or not is decided on p(any lesion), not the arg-max over types: oedema, core and rim
    # share the probability mass at a tumour's edge and would each lose to background.
    binary = torch.stack([torch.full_like(p_background, threshold), 1.0 - p_background])
    lesion_any = sampler.labels(binary) > 0
    # Types only matter inside the lesion; zeroing them elsewhere keeps the background "uniform" so
    # the costly interpolation runs on lesion borders only.
    near_lesion = (1.0 - p_background > 0.02).float()
    lesion_type_channels = sampler.labels(lesion_prob[1:] * near_lesion) + 1
    timings["resample"] = time.perf_counter() - start

    start = time.perf_counter()
    structure_lut = np.array([0, *meta.structure_label_ids], dtype=np.int64)
    lesion_lut = np.array([0, *meta.lesion_label_ids], dtype=np.int64)
    structure = structure_lut[structure_channels]
    lesion = np.where(lesion_any, lesion_lut[lesion_type_channels], 0)
    voxel_mm3 = float(np.prod(native.spacing))
    # Borders are refined before small components are dropped: a lacune's core can be a few
    # voxels above the cut-off, and the image decides whether it is a lesion's core (it has an
    # edge to grow to) or speckle (it does not, stays small and goes).
    if settings.lesion_refine_margin_mm > 0 and lesion.any():
        lesion = refine_lesions_to_images(
            lesion,
            images_on_grid({name: volumes[name] for name in config.modalities if name in volumes}, native),
            native.spacing,
            margin_mm=settings.lesion_refine_margin_mm,
            trim=settings.lesion_refine_trim,
        )
    lesion = remove_small_lesions(lesion, voxel_volume_mm3=voxel_mm3, min_volume_mm3=settings.min_lesion_volume_mm3)
    if config.keep_largest_structure_component:
        structure = keep_largest_structure_components(structure)
    ref_img = volumes[case.reference_modality]
    structure_img = _native_image(structure.astype(_label_dtype(int(structure_lut.max()))), ref_img)
    lesion_img = _native_image(lesion.astype(np.uint8), ref_img)
    timings["postprocess"] = time.perf_counter() - start

    model_voxel_ml = float(np.prod(config.spacing_mm)) / 1000.0
    brain = torch.from_numpy(case.brain_mask)
    p_lesion = 1.0 - p_background
    entropy = _entropy(lesion_prob)
    predicted = (p_lesion > 0.5) & brain
    uncertainty = UncertaintySummary(
        mean_entropy_brain=float(entropy[brain].mean()) if brain.any() else 0.0,
        mean_entropy_lesion=float(entropy[predicted].mean()) if predicted.any() else 0.0,
        uncertain_volume_ml=float((((p_lesion > 0.2) & (p_lesion < 0.8)) & brain).sum()) * model_voxel_ml,
        expected_lesion_volume_ml=float(p_lesion[brain].sum()) * model_voxel_ml,
        mutual_information=mutual_information,
        samples=max(1, mc_samples),
    )
    return Prediction(
        structure=structure_img,
        lesion=lesion_img,
        reference_modality=case.reference_modality,
        missing_modalities=case.missing,
        uncertainty=uncertainty,
        model_id=meta.model_id,
        seconds=timings,
        lesion_probability=p_lesion.numpy() if keep_probability else None,
        model_grid=case.model_grid,
    )
