"""Pictures of a case: slices through the largest lesion for every sequence, with mask outlines.

Pure numpy and Pillow (no matplotlib), so the web UI can call it for thumbnails. Images are
reoriented to closest RAS and shown in neurological convention (patient left on the image
left), as NiiVue shows them by default.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import BinaryIO

import cc3d
import nibabel as nib
import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

MODALITY_ORDER = ("T1", "T1CE", "T2", "FLAIR", "DWI", "ADC")
VIEWS = ("axial", "coronal", "sagittal")
_LESIONS_CSV = Path(__file__).resolve().parents[1] / "schemas" / "lesions.csv"


def _lesion_colours() -> dict[int, tuple[int, int, int]]:
    colours = {}
    with _LESIONS_CSV.open(newline="") as fh:
        for row in csv.DictReader(fh):
            h = row["color"].lstrip("#")
            colours[int(row["index"])] = (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    return colours


def _canonical(img: nib.Nifti1Image) -> tuple[np.ndarray, np.ndarray]:
    can = nib.as_closest_canonical(img)
    return np.asanyarray(can.dataobj), np.asarray(can.header.get_zooms()[:3], dtype=float)


def focus_point(lesion: np.ndarray | None, reference: np.ndarray) -> tuple[int, int, int]:
    """Centre of the largest lesion component, else the centre of the head."""
    if lesion is not None and lesion.any():
        cc = cc3d.connected_components(lesion > 0, connectivity=26)
        sizes = np.bincount(cc.ravel())
        sizes[0] = 0
        target = cc == int(np.argmax(sizes))
        # Through the component's own voxels, not a centroid that could fall outside a ring.
        ijk = np.argwhere(target)
        centre = ijk.mean(0)
        best = ijk[np.argmin(((ijk - centre) ** 2).sum(1))]
        return tuple(int(v) for v in best)  # type: ignore[return-value]
    nz = np.argwhere(reference > 0) if reference.any() else np.argwhere(np.ones_like(reference))
    return tuple(int(v) for v in nz.mean(0).round())  # type: ignore[return-value]


def _slice(arr: np.ndarray, view: str, p: tuple[int, int, int]) -> np.ndarray:
    if view == "axial":
        s = arr[:, :, p[2]]
    elif view == "coronal":
        s = arr[:, p[1], :]
    else:
        s = arr[p[0], :, :]
    return np.rot90(s)  # superior/anterior up


def _pixel_aspect(zooms: np.ndarray, view: str) -> tuple[float, float]:
    ax = {"axial": (0, 1), "coronal": (0, 2), "sagittal": (1, 2)}[view]
    return float(zooms[ax[0]]), float(zooms[ax[1]])  # (width mm per column, height mm per row)


def _window(arr: np.ndarray) -> tuple[float, float]:
    sample = arr[::2, ::2, ::2]
    nz = sample[sample > 0]
    if nz.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(nz, [0.5, 99.5])
    return float(lo) * 0.5, float(hi) if hi > lo else float(lo) + 1.0


def _fit(tile: np.ndarray, size: int, aspect: tuple[float, float], nearest: bool) -> np.ndarray:
    h, w = tile.shape[:2]
    width_mm, height_mm = w * aspect[0], h * aspect[1]
    scale = size / max(width_mm, height_mm)
    new_w, new_h = max(1, int(round(width_mm * scale))), max(1, int(round(height_mm * scale)))
    mode = Image.NEAREST if nearest else Image.BILINEAR
    im = Image.fromarray(tile).resize((new_w, new_h), mode)
    out = np.zeros((size, size) + tile.shape[2:], dtype=tile.dtype)
    y0, x0 = (size - new_h) // 2, (size - new_w) // 2
    out[y0 : y0 + new_h, x0 : x0 + new_w] = np.asarray(im)
    return out


def _tile(
    vol: np.ndarray | None,
    window: tuple[float, float],
    lesion: np.ndarray | None,
    structure: np.ndarray | None,
    view: str,
    p: tuple[int, int, int],
    zooms: np.ndarray,
    size: int,
    colours: dict[int, tuple[int, int, int]],
) -> np.ndarray:
    aspect = _pixel_aspect(zooms, view)
    if vol is None:
        return np.full((size, size, 3), 24, dtype=np.uint8)
    s = _slice(vol, view, p).astype(np.float32)
    g = np.clip((s - window[0]) / (window[1] - window[0]), 0, 1)
    rgb = _fit(np.uint8(g * 255), size, aspect, nearest=False)
    rgb = np.repeat(rgb[..., None], 3, axis=2)
    if structure is not None:
        lab = _fit(_slice(structure, view, p).astype(np.uint8), size, aspect, nearest=True)
        edge = (ndimage.grey_dilation(lab, size=3) != ndimage.grey_erosion(lab, size=3)) & (lab > 0)
        rgb[edge] = (0.6 * rgb[edge] + 0.4 * np.array([90, 200, 255])).astype(np.uint8)
    if lesion is not None:
        lab = _fit(_slice(lesion, view, p).astype(np.uint8), size, aspect, nearest=True)
        for value, colour in colours.items():
            m = lab == value
            if m.any():
                edge = m & ~ndimage.binary_erosion(m)
                rgb[edge] = colour
    return rgb


def _label(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str) -> None:
    draw.text(xy, text, fill=(255, 255, 255))


def _prepare(
    volumes: dict[str, nib.Nifti1Image], lesion: nib.Nifti1Image | None, structure: nib.Nifti1Image | None
) -> tuple[dict, np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray]:
    arrays = {m: _canonical(v) for m, v in volumes.items()}
    les = _canonical(lesion)[0] if lesion is not None else None
    struct = _canonical(structure)[0] if structure is not None else None
    ref, zooms = next(iter(arrays.values())) if arrays else (les, np.ones(3))
    if ref is None:
        raise ValueError("nothing to render")
    return arrays, les, struct, ref, zooms


def render_case_png(
    volumes: dict[str, nib.Nifti1Image],
    lesion: nib.Nifti1Image | None,
    structure: nib.Nifti1Image | None,
    out_path_or_buffer: str | Path | BinaryIO,
    size: int = 160,
    show_structure: bool = False,
) -> None:
    """Axial, coronal and sagittal slices through the largest lesion (rows) for every sequence (columns)."""
    arrays, les, struct, ref, zooms = _prepare(volumes, lesion, structure)
    p = focus_point(les, ref)
    colours = _lesion_colours()
    mods = [m for m in MODALITY_ORDER if m in arrays] + [m for m in arrays if m not in MODALITY_ORDER]
    head = 14
    canvas = Image.new("RGB", (size * len(mods), head + size * len(VIEWS)), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for c, m in enumerate(mods):
        vol = arrays[m][0]
        window = _window(vol)
        _label(draw, (c * size + 3, 1), m)
        for r, view in enumerate(VIEWS):
            tile = _tile(vol, window, les, struct if show_structure else None, view, p, zooms, size, colours)
            canvas.paste(Image.fromarray(tile), (c * size, head + r * size))
    for r, view in enumerate(VIEWS):
        _label(draw, (2, head + r * size + 2), view[0].upper())
    canvas.save(out_path_or_buffer, format="PNG", optimize=True)


def render_montage(
    cases: list[tuple[str, dict[str, nib.Nifti1Image], nib.Nifti1Image | None]],
    out_path_or_buffer: str | Path | BinaryIO,
    size: int = 128,
    view: str = "axial",
) -> None:
    """One row per case (title, volumes, lesion): every sequence as acquired, then the mask over FLAIR.

    The sequence tiles carry no outlines, so the contrast itself is what one sees; the last column
    shows where the ground truth says the lesion is.
    """
    colours = _lesion_colours()
    head, left = 14, 84
    columns = (*MODALITY_ORDER, "mask")
    canvas = Image.new("RGB", (left + size * len(columns), head + size * len(cases)), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for c, m in enumerate(columns):
        _label(draw, (left + c * size + 3, 1), m)
    for r, (title, volumes, lesion) in enumerate(cases):
        arrays, les, _, ref, zooms = _prepare(volumes, lesion, None)
        p = focus_point(les, ref)
        y = head + r * size
        for i, line in enumerate(title.split("\n")):
            _label(draw, (3, y + size // 2 - 12 + 12 * i), line)
        for c, m in enumerate(MODALITY_ORDER):
            vol = arrays[m][0] if m in arrays else None
            tile = _tile(vol, _window(vol) if vol is not None else (0, 1), None, None, view, p, zooms, size, colours)
            canvas.paste(Image.fromarray(tile), (left + c * size, y))
            if vol is None:
                _label(draw, (left + c * size + size // 2 - 10, y + size // 2 - 5), "n/a")
        base = next((arrays[m][0] for m in ("FLAIR", "T1", "T2") if m in arrays), ref)
        tile = _tile(base, _window(base), None, None, view, p, zooms, size, colours)
        if les is not None:
            lab = _fit(_slice(les, view, p).astype(np.uint8), size, _pixel_aspect(zooms, view), nearest=True)
            for value, colour in colours.items():
                m = lab == value
                tile[m] = (0.35 * tile[m] + 0.65 * np.array(colour)).astype(np.uint8)
        canvas.paste(Image.fromarray(tile), (left + len(MODALITY_ORDER) * size, y))
    canvas.save(out_path_or_buffer, format="PNG", optimize=True)


def load_case(
    case_dir: str | Path,
) -> tuple[dict[str, nib.Nifti1Image], nib.Nifti1Image | None, nib.Nifti1Image | None]:
    """Read a generated case folder: (volumes by modality, lesion, structure)."""
    case_dir = Path(case_dir)
    volumes = {m: nib.load(case_dir / f"{m}.nii.gz") for m in MODALITY_ORDER if (case_dir / f"{m}.nii.gz").exists()}
    lesion = nib.load(case_dir / "lesion.nii.gz") if (case_dir / "lesion.nii.gz").exists() else None
    structure = nib.load(case_dir / "structure.nii.gz") if (case_dir / "structure.nii.gz").exists() else None
    return volumes, lesion, structure
