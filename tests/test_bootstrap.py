"""The bootstrap training run: real loss, real data, weights that the coding path loads."""

from __future__ import annotations

import math
import random

import pytest
import torch

from cmfr_codec.models.dpb import DecodedPictureBuffer
from cmfr_codec.training.bootstrap import EXAMPLE_CLIP, bootstrap, load_clip, random_snippets
from cmfr_codec.training.losses import lambda_for, yuv_mse
from cmfr_codec.weights import find_weights, load_model


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    return load_clip(EXAMPLE_CLIP)


def test_lambda_sits_on_the_anchors_and_grows_log_linearly_between_them():
    assert [lambda_for(index) for index in (0, 21, 42, 63)] == pytest.approx([85.0, 170.0, 380.0, 840.0])
    assert lambda_for(10.5) == pytest.approx(math.sqrt(85.0 * 170.0))


def test_the_lambda_spread_raises_the_anchor_range_to_its_power_about_the_centre():
    centre = math.sqrt(85.0 * 840.0)
    for spread in (0.5, 1.8, 2.0):
        lambdas = [lambda_for(index, spread) for index in range(64)]
        assert lambdas == sorted(lambdas) and len(set(lambdas)) == 64
        assert lambdas[0] * lambdas[63] == pytest.approx(centre**2)
        assert lambdas[63] / lambdas[0] == pytest.approx((840.0 / 85.0) ** spread)
        assert lambdas[21] == pytest.approx(centre * (170.0 / centre) ** spread)
    assert [lambda_for(index, 1.0) for index in range(64)] == [lambda_for(index) for index in range(64)]
    with pytest.raises(ValueError, match="lambda spread must be positive"):
        lambda_for(0, 0.0)


def test_yuv_mse_weights_luma_six_times_each_chroma_plane():
    x = torch.zeros(1, 6, 4, 4)
    luma_error, chroma_error = x.clone(), x.clone()
    luma_error[:, :4] = 1.0
    chroma_error[:, 4] = 1.0
    assert yuv_mse(luma_error, x).item() == 6 / 8
    assert yuv_mse(chroma_error, x).item() == 1 / 8


def test_snippets_are_co_located_crops_of_consecutive_frames(clip):
    snippets = random_snippets(clip, batch=2, frames=3, crop=32, generator=random.Random(1))
    assert snippets.shape == (3, 2, 6, 32, 32)
    assert 0.0 <= float(snippets.min()) and float(snippets.max()) <= 1.0


def test_a_short_run_writes_weights_the_codec_loads_and_codes_with(tmp_path, clip):
    steps = bootstrap("tiny", tmp_path / "tiny", minutes=0.02, batch=1, crop=64, seed=0, intra_share=0.5)
    assert steps >= 1
    model = load_model(find_weights(str(tmp_path / "tiny.intra.cmfrw")))
    decoded, streams = model.codec.intra.compress(clip[:1, :, :32, :32], 40)
    buffer = DecodedPictureBuffer(frame=decoded.x_hat)
    _, inter_streams = model.codec.inter.compress(clip[1:2, :, :32, :32], buffer, 40)
    assert set(streams) == {"frame"}
    assert set(inter_streams) == {"motion", "frame"}
