"""Tissue contrast follows the signal equations: what each sequence shows, before any image exists."""

import numpy as np
import pytest

from annotations.demo import contrast


@pytest.fixture(scope="module")
def signal():
    params = contrast.sample_contrast_params(np.random.default_rng(0))
    props = contrast.tissue_properties(params)

    def s(modality: str, tissue: str) -> float:
        return contrast.tissue_signal(modality, props[tissue], params["sequences"][modality])

    return s


def test_csf_is_dark_on_t1_and_flair_and_bright_on_t2(signal):
    assert signal("T1", "csf") < 0.6 * signal("T1", "wm")
    assert signal("FLAIR", "csf") < 0.3 * signal("FLAIR", "wm")
    assert signal("T2", "csf") > 2.0 * signal("T2", "wm")


def test_grey_matter_is_darker_than_white_matter_on_t1_and_brighter_on_t2(signal):
    assert signal("T1", "gm") < signal("T1", "wm")
    assert signal("T2", "gm") > signal("T2", "wm")


def test_oedema_and_wmh_are_bright_on_flair_and_t2(signal):
    for tissue in ("edema", "wmh"):
        assert signal("FLAIR", tissue) > 1.5 * signal("FLAIR", "wm")
        assert signal("T2", tissue) > 1.5 * signal("T2", "wm")


def test_only_gadolinium_tissue_brightens_after_contrast(signal):
    for tissue in ("enhancing", "meningioma"):
        assert signal("T1CE", tissue) > 1.4 * signal("T1", tissue)
    for tissue in ("wm", "gm", "csf", "infarct", "necrosis"):
        assert signal("T1CE", tissue) == pytest.approx(signal("T1", tissue))


def test_restricted_diffusion_is_bright_on_dwi(signal):
    assert signal("DWI", "infarct") > 1.8 * signal("DWI", "wm")
    assert signal("DWI", "csf") < 0.5 * signal("DWI", "wm")


def test_flair_inversion_time_nulls_csf_for_every_sampled_protocol():
    for seed in range(5):
        params = contrast.sample_contrast_params(np.random.default_rng(seed))
        props = contrast.tissue_properties(params)
        csf = contrast.tissue_signal("FLAIR", contrast.TISSUES["csf"], params["sequences"]["FLAIR"])
        wm = contrast.tissue_signal("FLAIR", props["wm"], params["sequences"]["FLAIR"])
        assert csf < 0.05 * wm
