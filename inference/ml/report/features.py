"""Measurements a report sentence is grounded in, taken from the masks and the images.

Everything is measured in world millimetres through the mask's affine, so a LAS or oblique case
gets the same sides and sizes as its RAS twin: "left" is world x < midline (RAS+), diameters are
extents along the world axes (transverse, antero-posterior, cranio-caudal), volumes use the voxel
volume of the grid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from inference.ml.postprocess import lesion_components
from inference.ml.report.midline import midline_shift, midline_x, world_coordinates
from inference.ml.schema import (
    DEFAULT_LESION_LABELS,
    LESION_EDEMA,
    LESION_ENHANCING,
    LESION_INFARCT,
    LESION_NECROSIS,
    LESION_WMH,
    LabelSchema,
)

REGION_MIN_FRACTION = 0.15  # a structure is named in the text from this share of the lesion core
REGION_MAX_NAMED = 3
TOUCH_MIN_FRACTION = 0.01  # a structure "touches" the lesion (not a contradiction to name it)
CSF_REGIONS = ("lateral ventricle", "third ventricle", "fourth ventricle")
SIDE_MAJORITY = 0.85
LESION_NAMES = {label.index: label.name for label in DEFAULT_LESION_LABELS}


@dataclass(frozen=True)
class RegionOverlap:
    label_id: int
    name: str
    side: str
    coarse_region: str
    fraction: float  # share of the lesion component's voxels inside this structure
    volume_ml: float


@dataclass
class LesionFeatures:
    component: int  # 1 = largest, as numbered by postprocess.lesion_components
    volume_ml: float  # the lesion core (everything but oedema); oedema is measured apart
    diameters_mm: tuple[float, float, float]  # core extent along its principal axes, largest first
    centroid_mm: tuple[float, float, float]
    side: str  # left | right | bilateral | midline
    regions: list[RegionOverlap]  # structures named in the text, largest share first
    touched: list[RegionOverlap]  # every structure the whole component touches (for checking)
    core_touched: list[RegionOverlap]  # every structure the core (no oedema) touches
    composition_ml: dict[str, float]  # lesion label name → volume inside this component
    finding: str  # mass | infarct | white matter hyperintensity | signal abnormality
    enhancement: str | None  # ring | nodular | heterogeneous | homogeneous | none; None without T1CE
    signal: dict[str, str]  # modality → high | slightly high | iso | slightly low | low (vs NAWM)
    signal_ratio: dict[str, float]
    necrosis_signal: dict[str, str]  # the necrotic centre's signal, when there is one
    edema_ml: float
    restricted_diffusion: bool | None
    extra_axial: bool

    @property
    def region_label_ids(self) -> list[int]:
        return [r.label_id for r in self.regions]

    @property
    def coarse_regions(self) -> list[str]:
        seen: dict[str, None] = {}
        for region in self.regions:
            seen.setdefault(region.coarse_region, None)
        return list(seen)

    @property
    def edema_ratio(self) -> float:
        return self.edema_ml / max(self.volume_ml, 1e-6)

    @property
    def max_diameter_mm(self) -> float:
        return max(self.diameters_mm)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["region_label_ids"] = self.region_label_ids
        return data


@dataclass
class CaseFeatures:
    lesions: list[LesionFeatures]
    midline_shift_mm: float  # positive: towards the right (world +x)
    ventricle_ratio: float | None  # smaller / larger lateral ventricle volume
    compressed_ventricle_side: str | None
    present_labels: dict[int, float]  # structure label → volume (mL) in the mask
    available_modalities: tuple[str, ...]
    # White-matter hyperintensities are described together: all WMH components measured as one.
    wmh_group: LesionFeatures | None = None
    components: np.ndarray | None = field(default=None, repr=False)  # lesion component map
    lesion_voxels_by_label: dict[int, int] = field(default_factory=dict)  # structure label → lesion voxels
    voxel_volume_ml: float = 0.001

    @property
    def mass_effect(self) -> bool:
        big = any(lesion.finding == "mass" and lesion.volume_ml >= 20.0 for lesion in self.lesions)
        compressed = self.ventricle_ratio is not None and self.ventricle_ratio < 0.7 and bool(self.lesions)
        return abs(self.midline_shift_mm) >= 3.0 or (big and compressed)

    def lesion(self, component: int) -> LesionFeatures | None:
        return next((lesion for lesion in self.lesions if lesion.component == component), None)


def signal_category(ratio: float) -> str:
    if ratio >= 1.3:
        return "high"
    if ratio >= 1.1:
        return "slightly high"
    if ratio > 0.9:
        return "iso"
    if ratio > 0.75:
        return "slightly low"
    return "low"


def principal_diameters(world: np.ndarray, voxel_mm: float) -> tuple[float, float, float]:
    """Extent along the principal axes (plus one voxel), largest first: orientation-independent."""
    if len(world) < 2:
        return (voxel_mm, voxel_mm, voxel_mm)
    centred = world - world.mean(axis=0)
    _, axes = np.linalg.eigh(centred.T @ centred)
    projected = centred @ axes
    extents = sorted((float(projected[:, k].max() - projected[:, k].min()) + voxel_mm for k in range(3)), reverse=True)
    return (extents[0], extents[1], extents[2])


def voxel_spacing(affine: np.ndarray) -> np.ndarray:
    return np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))


def nawm_masks(
    structure: np.ndarray, lesion: np.ndarray, schema: LabelSchema, spacing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where normal-appearing white matter is sampled: lobe voxels deep inside the brain (away from
    cortex and CSF) and far from any lesion; plus a looser fallback (all brain far from lesions)."""
    lobe_ids = [lab.index for lab in schema.labels if "lobe" in lab.coarse_region]
    brain = structure > 0
    depth_vox = max(1, int(round(6.0 / float(spacing.min()))))
    deep = ndimage.binary_erosion(brain, iterations=depth_vox)
    if lesion.any():
        near_lesion = ndimage.binary_dilation(lesion > 0, iterations=depth_vox)
    else:
        near_lesion = np.zeros_like(brain)
    region = deep & np.isin(structure, lobe_ids) & ~near_lesion
    return region, brain & ~near_lesion


def nawm_reference(volume: np.ndarray, region: np.ndarray, fallback: np.ndarray) -> float | None:
    """Typical intensity of normal-appearing white matter: the mode of the sampled histogram.

    Demo and Hammers masks fold white matter into the lobes; deep in a lobe white matter is the
    largest single tissue and forms the sharpest histogram peak, so the mode finds it without a
    white-matter label.
    """
    values = volume[region & (volume > 0)]
    if values.size < 100:
        values = volume[fallback & (volume > 0)]
    if values.size < 100:
        return None
    lo, hi = np.percentile(values, (1, 99))
    if hi <= lo:
        return float(np.median(values))
    hist, edges = np.histogram(values, bins=100, range=(lo, hi))
    smooth = ndimage.gaussian_filter1d(hist.astype(float), 2.0)
    peak = int(np.argmax(smooth))
    return float((edges[peak] + edges[peak + 1]) / 2.0)


def _side_of(overlaps: list[RegionOverlap], centroid_x: float, midline_x: float | None) -> str:
    left = sum(r.fraction for r in overlaps if r.side == "left")
    right = sum(r.fraction for r in overlaps if r.side == "right")
    sided = left + right
    if sided >= 0.5:
        if left / sided >= SIDE_MAJORITY:
            return "left"
        if right / sided >= SIDE_MAJORITY:
            return "right"
        return "bilateral"
    if midline_x is None:
        return "midline"
    if centroid_x < midline_x - 3.0:
        return "left"
    if centroid_x > midline_x + 3.0:
        return "right"
    return "midline"


def _finding(composition: Mapping[str, float], extra_axial: bool) -> str:
    """The kind of finding, by the volumes of the typed labels (a few stray voxels of another type,
    as a predicted mask has, do not change it)."""
    if extra_axial:
        return "extra-axial mass"
    necrosis = composition.get(LESION_NAMES[LESION_NECROSIS], 0.0)
    enhancing = composition.get(LESION_NAMES[LESION_ENHANCING], 0.0)
    infarct = composition.get(LESION_NAMES[LESION_INFARCT], 0.0)
    wmh = composition.get(LESION_NAMES[LESION_WMH], 0.0)
    tumour = necrosis + enhancing
    core = tumour + infarct + wmh
    if core <= 0:
        return "signal abnormality"
    if tumour >= 0.3 * core:
        return "mass" if necrosis >= 0.05 * tumour else "lesion"
    return "infarct" if infarct >= wmh else "white matter hyperintensity"


def _enhancement(
    composition: Mapping[str, float], signal_ratio: Mapping[str, float], max_diameter: float, extra_axial: bool
) -> str | None:
    """Enhancement pattern, read from the post-contrast signal and the enhancing/necrotic labels."""
    if "T1CE" not in signal_ratio:
        return None
    post = signal_ratio["T1CE"]
    pre = signal_ratio.get("T1", 0.85)
    enhancing = composition.get(LESION_NAMES[LESION_ENHANCING], 0.0)
    if not (enhancing > 0 or (post >= 1.2 and post - pre >= 0.25)):
        return "none"
    if composition.get(LESION_NAMES[LESION_NECROSIS], 0.0) > 0:
        return "ring"
    if extra_axial:
        return "homogeneous"
    return "nodular" if max_diameter <= 12.0 else "heterogeneous"


def _label_counts(values: np.ndarray) -> dict[int, int]:
    counts = np.bincount(values.ravel(), minlength=1)
    return {int(i): int(c) for i, c in enumerate(counts) if i and c}


def _overlaps(counts: Mapping[int, int], total: int, schema: LabelSchema, voxel_ml: float) -> list[RegionOverlap]:
    out = []
    for label_id, n in counts.items():
        label = schema.get(label_id)
        if label is not None:
            out.append(
                RegionOverlap(label_id, label.name, label.side, label.coarse_region, n / max(1, total), n * voxel_ml)
            )
    out.sort(key=lambda o: -o.fraction)
    return out


def _named_regions(
    overlaps: list[RegionOverlap], min_fraction: float = REGION_MIN_FRACTION, most: int = REGION_MAX_NAMED
) -> list[RegionOverlap]:
    """What the text names: the structures holding most of the core (CSF spaces only if nothing else)."""
    tissue = [o for o in overlaps if o.coarse_region not in CSF_REGIONS] or overlaps
    named = [o for o in tissue if o.fraction >= min_fraction][:most]
    return named or tissue[:1]


def _measure_component(
    component: int,
    components: np.ndarray,
    found: tuple[slice, ...],
    structure: np.ndarray,
    lesion: np.ndarray,
    affine: np.ndarray,
    schema: LabelSchema,
    volumes: Mapping[str, np.ndarray],
    references: Mapping[str, float | None],
    voxel_ml: float,
    spacing: np.ndarray,
    midline_x: float | None,
) -> LesionFeatures:
    # Work in the component's bounding box (plus a margin for the extra-axial shell).
    margin = int(np.ceil(6.0 / float(spacing.min())))
    lo = np.array([max(0, s.start - margin) for s in found])
    hi = np.array([min(n, s.stop + margin) for s, n in zip(found, components.shape, strict=True)])
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    comp = components[box] == component
    labels, types = structure[box], np.where(comp, lesion[box], 0)
    core = comp & (types != LESION_EDEMA)
    if not core.any():
        core = comp
    composition = {LESION_NAMES.get(t, str(t)): n * voxel_ml for t, n in _label_counts(types).items()}
    whole_counts = _label_counts(labels[comp])
    touched = _overlaps(whole_counts, int(comp.sum()), schema, voxel_ml)
    core_counts = _label_counts(labels[core])
    core_overlaps = _overlaps(core_counts, int(core.sum()), schema, voxel_ml)
    extra_axial = sum(o.fraction for o in core_overlaps) < 0.3
    if extra_axial:
        # Outside the labelled brain (a meningioma): ground it in the structures it presses on.
        depth = max(1, int(round(4.0 / float(spacing.min()))))
        shell = ndimage.binary_dilation(core, iterations=depth) & ~comp
        shell_counts = _label_counts(labels[shell])
        core_overlaps = _overlaps(shell_counts, sum(shell_counts.values()), schema, 0.0)
        touched = touched + [o for o in core_overlaps if o.label_id not in whole_counts]
    named = _named_regions(core_overlaps)

    offset = lo.astype(np.float64)
    core_world = world_coordinates(np.argwhere(core) + offset, affine)
    voxel_mm = float(np.cbrt(voxel_ml * 1000.0))
    diameters = principal_diameters(core_world, voxel_mm)
    centroid = core_world.mean(axis=0)
    side = _side_of(named, float(centroid[0]), midline_x)

    signal, ratios = {}, {}
    solid = core & (types != LESION_NECROSIS)
    if not solid.any():
        solid = core
    for name, volume in volumes.items():
        reference = references.get(name)
        if reference is None or reference <= 0:
            continue
        ratio = float(np.median(volume[box][solid])) / reference
        ratios[name] = round(ratio, 3)
        signal[name] = signal_category(ratio)
    necrosis_signal = {}
    necrotic = comp & (types == LESION_NECROSIS)
    if necrotic.any():
        for name, volume in volumes.items():
            reference = references.get(name)
            if reference is not None and reference > 0:
                necrosis_signal[name] = signal_category(float(np.median(volume[box][necrotic])) / reference)
    restricted = None
    if "DWI" in ratios and "ADC" in ratios:
        restricted = ratios["DWI"] >= 1.3 and ratios["ADC"] <= 0.8
    return LesionFeatures(
        component=component,
        volume_ml=float(core.sum()) * voxel_ml,
        diameters_mm=diameters,
        centroid_mm=(float(centroid[0]), float(centroid[1]), float(centroid[2])),
        side=side,
        regions=named,
        touched=[o for o in touched if o.fraction >= TOUCH_MIN_FRACTION or o.volume_ml == 0.0],
        core_touched=[o for o in core_overlaps if o.fraction >= TOUCH_MIN_FRACTION],
        composition_ml=composition,
        finding=_finding(composition, extra_axial),
        enhancement=_enhancement(composition, ratios, diameters[0], extra_axial),
        signal=signal,
        signal_ratio=ratios,
        necrosis_signal=necrosis_signal,
        edema_ml=composition.get(LESION_NAMES[LESION_EDEMA], 0.0),
        restricted_diffusion=restricted,
        extra_axial=extra_axial,
    )


def extract_features(
    structure: np.ndarray,
    lesion: np.ndarray,
    affine: np.ndarray,
    schema: LabelSchema,
    volumes: Mapping[str, np.ndarray] | None = None,
) -> CaseFeatures:
    """Measure every lesion component and the global findings of one case.

    ``structure`` and ``lesion`` share one grid (``affine``); ``volumes`` (modality → intensities
    on that grid, optional) give the signal descriptions. Missing modalities are simply absent.
    """
    structure = np.asarray(structure).astype(np.int64, copy=False)
    lesion = np.asarray(lesion).astype(np.int64, copy=False)
    if structure.shape != lesion.shape:
        raise ValueError(f"structure {structure.shape} and lesion {lesion.shape} masks differ in shape")
    affine = np.asarray(affine, dtype=np.float64)
    spacing = voxel_spacing(affine)
    voxel_ml = float(abs(np.linalg.det(affine[:3, :3]))) / 1000.0
    volumes = {name: np.asarray(v, dtype=np.float32) for name, v in (volumes or {}).items()}

    components, count = lesion_components(lesion)
    present = np.bincount(structure.ravel(), minlength=1)
    present_labels = {int(i): float(n) * voxel_ml for i, n in enumerate(present) if i and n and schema.get(i)}

    # Whole-brain statistics (reference intensities, midline) on a ≈2 mm subsample: as accurate
    # for a median or a histogram mode and 8× cheaper than the 1 mm grid.
    step = max(1, int(round(2.0 / float(spacing.min()))))
    coarse = (slice(None, None, step),) * 3
    coarse_affine = affine @ np.diag([step, step, step, 1.0])
    coarse_structure = structure[coarse]
    region, fallback = nawm_masks(coarse_structure, lesion[coarse], schema, spacing * step)
    references = {}
    for name, volume in volumes.items():
        if volume.shape == structure.shape:
            references[name] = nawm_reference(volume[coarse], region, fallback)

    lesion_features = []
    lesion_voxels_by_label: dict[int, int] = {}
    midline = midline_x(coarse_structure, schema, coarse_affine)
    for component, found in enumerate(ndimage.find_objects(components), start=1):
        if found is None:
            continue
        features = _measure_component(
            component,
            components,
            found,
            structure,
            lesion,
            affine,
            schema,
            volumes,
            references,
            voxel_ml,
            spacing,
            midline,
        )
        lesion_features.append(features)
        for overlap in features.touched:
            if overlap.volume_ml > 0:
                n = int(round(overlap.volume_ml / voxel_ml))
                lesion_voxels_by_label[overlap.label_id] = lesion_voxels_by_label.get(overlap.label_id, 0) + n

    wmh_group = None
    wmh_components = [f.component for f in lesion_features if f.finding == "white matter hyperintensity"]
    if wmh_components:
        union = np.isin(components, wmh_components).astype(np.int32)
        found = ndimage.find_objects(union)[0]
        assert found is not None
        wmh_group = _measure_component(
            1, union, found, structure, lesion, affine, schema, volumes, references, voxel_ml, spacing, midline
        )
        wmh_group.component = 0
        # Scattered hyperintensities are described by where they spread, not only the main sites.
        wmh_group.regions = _named_regions(wmh_group.core_touched, min_fraction=0.08, most=4)

    shift = 0.0
    space_occupying = [
        lesion
        for lesion in lesion_features
        if lesion.finding in ("mass", "extra-axial mass") or lesion.volume_ml + lesion.edema_ml >= 30.0
    ]
    if space_occupying:
        largest = space_occupying[0]
        shift = midline_shift(coarse_structure, schema, coarse_affine, largest.centroid_mm, largest.side)

    ventricle_ratio, compressed_side = None, None
    ventricles = {
        side: sum(
            present_labels.get(lab.index, 0.0)
            for lab in schema.labels
            if lab.coarse_region == "lateral ventricle" and lab.side == side
        )
        for side in ("left", "right")
    }
    if ventricles["left"] > 0 and ventricles["right"] > 0:
        small, large = sorted(ventricles.items(), key=lambda kv: kv[1])
        ventricle_ratio = small[1] / large[1]
        # Ventricles are often asymmetric by nature: call one compressed only beside a mass.
        if ventricle_ratio < 0.7 and any(lesion.side == small[0] for lesion in space_occupying):
            compressed_side = small[0]

    return CaseFeatures(
        lesions=lesion_features,
        midline_shift_mm=shift,
        ventricle_ratio=ventricle_ratio,
        compressed_ventricle_side=compressed_side,
        present_labels=present_labels,
        available_modalities=tuple(volumes),
        wmh_group=wmh_group,
        components=components,
        lesion_voxels_by_label=lesion_voxels_by_label,
        voxel_volume_ml=voxel_ml,
    )
