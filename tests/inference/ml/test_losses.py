import pytest
import torch
from monai.losses import DiceCELoss as MonaiDiceCELoss

from inference.ml.losses import DiceCELoss


def _monai() -> MonaiDiceCELoss:
    return MonaiDiceCELoss(to_onehot_y=True, softmax=True, include_background=False, batch=True)


@pytest.mark.parametrize(
    ("classes", "shape", "absent"),
    [
        (33, (2, 12, 10, 9), None),  # the structure head
        (6, (2, 11, 13, 7), 3),  # the lesion head, one class missing from the batch
        (6, (1, 8, 8, 8), 5),
    ],
)
def test_value_and_gradient_match_monai(classes, shape, absent):
    generator = torch.Generator().manual_seed(classes)
    logits = torch.randn(shape[0], classes, *shape[1:], dtype=torch.float64, generator=generator, requires_grad=True)
    target = torch.randint(0, classes, (shape[0], 1, *shape[1:]), generator=generator)
    target[:, :, :3] = 0  # mostly background, as a patch is
    if absent is not None:
        target[target == absent] = 0

    expected = _monai()(logits, target)
    (expected_grad,) = torch.autograd.grad(expected, logits)
    ours = DiceCELoss()(logits, target)
    (our_grad,) = torch.autograd.grad(ours, logits)

    assert ours.item() == pytest.approx(expected.item(), rel=1e-12)
    assert torch.allclose(our_grad, expected_grad, rtol=1e-9, atol=1e-15)
    # And it is a loss that can fail: a confident right answer scores far lower than random logits.
    perfect = torch.nn.functional.one_hot(target[:, 0], classes).movedim(-1, 1).double() * 40.0
    assert DiceCELoss()(perfect, target).item() < 0.05 < ours.item()


def test_target_without_channel_axis_is_accepted_and_a_wrong_shape_refused():
    logits = torch.randn(2, 4, 5, 5, 5)
    target = torch.randint(0, 4, (2, 5, 5, 5))
    assert DiceCELoss()(logits, target).item() == pytest.approx(DiceCELoss()(logits, target[:, None]).item())
    with pytest.raises(ValueError, match="does not match"):
        DiceCELoss()(logits, target[:, :4])
    with pytest.raises(ValueError, match="class indices"):
        DiceCELoss()(logits, torch.zeros(2, 4, 5, 5, 5))
