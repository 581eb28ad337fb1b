"""The segmentation network: one MONAI UNet trunk shared by a structure head and a lesion head.

Sharing the trunk halves the CPU cost against two networks, and the anatomy the structure head
learns helps the lesion head tell a lesion from normal tissue of similar signal.
"""

from __future__ import annotations

import contextlib
import math

import torch
from monai.networks.nets import UNet
from torch import nn

from inference.ml.config import SegmentationConfig

LESION_BACKGROUND_PRIOR = 0.99


class TwoHeadSegmenter(nn.Module):
    """Returns ``(structure_logits, lesion_logits)``, each (B, classes, X, Y, Z)."""

    def __init__(self, config: SegmentationConfig, n_structure_classes: int, n_lesion_classes: int) -> None:
        super().__init__()
        self.trunk = UNet(
            spatial_dims=3,
            in_channels=config.in_channels,
            out_channels=config.head_features,
            channels=config.channels,
            strides=config.strides,
            num_res_units=config.num_res_units,
            dropout=config.dropout,
        )
        self.features = nn.Sequential(
            nn.InstanceNorm3d(config.head_features, affine=True),
            nn.PReLU(),
        )
        self.structure_head = nn.Conv3d(config.head_features, n_structure_classes, kernel_size=1)
        self.lesion_head = nn.Conv3d(config.head_features, n_lesion_classes, kernel_size=1)
        # Lesions fill about 1 % of a brain: start the lesion head at that prior (as RetinaNet does)
        # instead of at "every class equally likely", which calls the whole brain lesion until the
        # network has seen enough patches to learn otherwise.
        nn.init.zeros_(self.lesion_head.bias)
        with torch.no_grad():
            self.lesion_head.bias[0] = math.log(
                LESION_BACKGROUND_PRIOR / (1 - LESION_BACKGROUND_PRIOR) * max(n_lesion_classes - 1, 1)
            )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(self.trunk(x))
        return self.structure_head(features), self.lesion_head(features)


def build_network(config: SegmentationConfig, n_structure_classes: int, n_lesion_classes: int) -> TwoHeadSegmenter:
    """Class counts include background (channel 0) for both heads."""
    return TwoHeadSegmenter(config, n_structure_classes, n_lesion_classes)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(config: SegmentationConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast when the config asks for it and the device runs bf16 natively, else a no-op."""
    if not config.bf16_autocast:
        return contextlib.nullcontext()
    if device.type == "cuda" or (device.type == "cpu" and torch.cpu._is_avx512_bf16_supported()):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def enable_mc_dropout(model: nn.Module) -> None:
    """Keep dropout sampling at inference (MC dropout) while norms stay in eval mode."""
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.Dropout | nn.Dropout3d | nn.AlphaDropout):
            module.train()
