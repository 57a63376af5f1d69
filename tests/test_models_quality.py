"""Quality scales: four learned step vectors, 64 quality indices between them."""

import pytest
import torch

from cmfr_codec.models.quality import QualityScales

CHANNELS = 8
ANCHOR_INDICES = (0, 21, 42, 63)


def scales_with_random_anchors() -> QualityScales:
    """Anchors that differ per channel and fall with the quality index (as trained steps do)."""
    torch.manual_seed(0)
    quality = QualityScales(CHANNELS)
    falling = torch.rand(4, CHANNELS).cumsum(dim=0) + 0.1
    with torch.no_grad():
        quality.log_steps.copy_(1.0 - falling)
    return quality


def test_steps_have_one_positive_value_per_channel():
    steps = QualityScales(CHANNELS)(10)
    assert steps.shape == (1, CHANNELS, 1, 1)
    assert bool((steps > 0).all())


def test_the_anchor_indices_give_the_learned_steps_exactly():
    quality = scales_with_random_anchors()
    for anchor, index in enumerate(ANCHOR_INDICES):
        assert torch.equal(quality(index).flatten(), quality.log_steps[anchor].exp())


def test_steps_fall_strictly_from_the_lowest_to_the_highest_quality():
    quality = scales_with_random_anchors()
    steps = torch.cat([quality(index) for index in range(64)]).squeeze()
    assert bool((steps[1:] < steps[:-1]).all())


def test_steps_between_anchors_are_log_linear():
    quality = scales_with_random_anchors()
    midway = quality(torch.tensor(10.5)).flatten()
    torch.testing.assert_close(midway, (quality(0) * quality(21)).sqrt().flatten())


def test_a_batch_of_quality_indices_gives_a_batch_of_steps():
    quality = scales_with_random_anchors()
    steps = quality(torch.tensor([0.0, 30.0, 63.0]))
    assert steps.shape == (3, CHANNELS, 1, 1)
    assert torch.equal(steps[1], quality(30)[0])


def test_a_quality_index_trains_only_its_two_neighbouring_anchors():
    quality = scales_with_random_anchors()
    quality(30).sum().backward()
    touched = quality.log_steps.grad.abs().sum(dim=1) > 0
    assert touched.tolist() == [False, True, True, False]


@pytest.mark.parametrize("index", [-1, 64, 63.5])
def test_quality_indices_outside_the_range_are_rejected(index):
    with pytest.raises(ValueError, match="0..63"):
        QualityScales(CHANNELS)(index)
