"""The intra codec: a trainable rate-distortion path, and real bytes the decoder turns back into the same frame."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cmfr_codec.io import open_video
from cmfr_codec.models.config import TINY
from cmfr_codec.models.intra import IntraCodec
from cmfr_codec.models.layers import yuv420_to_tensor

REPOSITORY = Path(__file__).resolve().parents[1]
EXAMPLE_CLIP = REPOSITORY / "examples" / "city_416x240_25fps.mkv"
STREAM_NAMES = {"frame"}


@pytest.fixture(scope="module")
def first_frame():
    with open_video(EXAMPLE_CLIP, frames=1) as reader:
        return next(iter(reader))


def real_crop(frame, width: int, height: int) -> torch.Tensor:
    """A ``width`` x ``height`` luma crop of the example clip's first frame as the (1, 6, h, w) tensor."""
    top, left = 96, 160
    chroma_height, chroma_width = (height + 1) // 2, (width + 1) // 2

    def chroma(plane: np.ndarray) -> np.ndarray:
        return plane[top // 2: top // 2 + chroma_height, left // 2: left // 2 + chroma_width]

    return yuv420_to_tensor(frame.y[top: top + height, left: left + width], chroma(frame.u), chroma(frame.v))


@pytest.fixture(scope="module")
def codec() -> IntraCodec:
    torch.manual_seed(0)
    model = IntraCodec(TINY.intra).eval()
    model.update_tables()
    return model


def test_forward_reconstructs_the_input_shape_and_the_feature_at_the_same_size(codec, first_frame):
    x = real_crop(first_frame, 64, 48)
    output = codec(x, quality_index=30)
    assert output.x_hat.shape == x.shape
    assert output.feature.shape == (1, TINY.intra.feature_channels, 24, 32)


def test_forward_gives_likelihoods_of_y_at_one_sixteenth_and_z_at_one_sixty_fourth_of_luma(codec, first_frame):
    output = codec(real_crop(first_frame, 64, 48), quality_index=30)
    # 64x48 luma is 32x24 at half resolution, padded to 32x32.
    assert output.likelihoods["y"].shape == (1, TINY.intra.latent_channels, 4, 4)
    assert output.likelihoods["z"].shape == (1, TINY.intra.hyper_channels, 1, 1)


def test_bits_are_the_information_content_of_both_latents_and_bpp_divides_by_luma_pixels(codec, first_frame):
    output = codec(real_crop(first_frame, 64, 48), quality_index=30, quantization="ste")
    expected_bits = -sum(likelihoods.log2().sum() for likelihoods in output.likelihoods.values())
    assert bool(torch.isfinite(output.bits)) and float(output.bits.detach()) > 0
    assert torch.allclose(output.bits, expected_bits)
    assert torch.allclose(output.bpp, output.bits / (64 * 48))


def test_a_batch_may_mix_quality_indices(codec, first_frame):
    x = real_crop(first_frame, 64, 64).repeat(2, 1, 1, 1)
    output = codec(x, quality_index=torch.tensor([0.0, 62.5]), quantization="ste")
    assert output.x_hat.shape == x.shape
    assert not torch.equal(output.x_hat[0], output.x_hat[1])


def test_the_rate_distortion_loss_reaches_every_parameter_and_an_adam_step_runs(first_frame):
    torch.manual_seed(1)
    model = IntraCodec(TINY.intra)
    x = real_crop(first_frame, 64, 64)
    output = model(x, quality_index=torch.tensor([17.0]))
    loss = 100 * torch.mean((output.x_hat - x) ** 2) + output.bpp
    loss.backward()
    without_gradient = [name for name, parameter in model.named_parameters() if parameter.grad is None]
    assert without_gradient == []
    before = model.projection.weight.detach().clone()
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    assert not torch.equal(model.projection.weight, before)


@pytest.mark.parametrize("quality_index", [5, 58])
@pytest.mark.parametrize(("width", "height"), [(64, 48), (50, 30)])
def test_decompress_rebuilds_exactly_what_compress_reconstructed(codec, first_frame, quality_index, width, height):
    x = real_crop(first_frame, width, height)
    encoded, streams = codec.compress(x, quality_index)
    decoded = codec.decompress(streams, quality_index, x.shape[-2], x.shape[-1])
    assert set(streams) == STREAM_NAMES
    assert decoded.x_hat.shape == x.shape
    assert torch.equal(decoded.x_hat, encoded.x_hat)
    assert torch.equal(decoded.feature, encoded.feature)


def test_compress_reconstructs_what_forward_with_rounding_reconstructs(codec, first_frame):
    x = real_crop(first_frame, 64, 48)
    encoded, _ = codec.compress(x, 40)
    with torch.no_grad():
        trained_path = codec(x, 40, quantization="ste")
    assert torch.allclose(encoded.x_hat, trained_path.x_hat, atol=1e-5)


def test_the_float_entropy_path_trains_and_round_trips_too(first_frame):
    torch.manual_seed(3)
    model = IntraCodec(dataclasses.replace(TINY.intra, integer_entropy=False)).eval()
    model.update_tables()
    x = real_crop(first_frame, 64, 48)
    model.train()
    model(x, 20).bpp.backward()
    model.eval()
    encoded, streams = model.compress(x, 20)
    decoded = model.decompress(streams, 20, *x.shape[-2:])
    assert torch.equal(decoded.x_hat, encoded.x_hat) and torch.equal(decoded.latent, encoded.latent)


def test_decoding_with_another_quality_index_gives_another_frame(codec, first_frame):
    x = real_crop(first_frame, 64, 48)
    encoded, streams = codec.compress(x, 10)
    assert codec.z_codec.density_band(12) == codec.z_codec.density_band(10)  # the same z density: z still decodes
    assert not torch.equal(codec.decompress(streams, 12, x.shape[-2], x.shape[-1]).x_hat, encoded.x_hat)


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (1, 6, 32), (6, 32, 32)])
def test_a_tensor_that_is_not_a_frame_is_rejected(codec, shape):
    with pytest.raises(ValueError, match="x must be"):
        codec(torch.zeros(shape), 10)


def test_compress_codes_one_frame_at_a_time(codec):
    with pytest.raises(ValueError, match="one frame"):
        codec.compress(torch.zeros(2, 6, 32, 32), 10)


CHILD = """
import sys
import torch
torch.set_num_threads(1)
from cmfr_codec.models.config import IntraConfig
from cmfr_codec.models.intra import IntraCodec
saved = torch.load(sys.argv[1])
codec = IntraCodec(IntraConfig.from_dict(saved["config"])).eval()
codec.load_state_dict(saved["state_dict"])
decoded = codec.decompress(saved["streams"], saved["quality_index"], *saved["size"])
torch.save({"x_hat": decoded.x_hat, "feature": decoded.feature}, sys.argv[2])
"""


def test_another_process_on_one_thread_decodes_exactly_the_same_floats(codec, first_frame, tmp_path):
    """Coding runs on thread-count-independent code paths (cmfr_codec.determinism), so a decoder
    with another thread count rebuilds the encoder's floats bit for bit, not just its 8-bit frame."""
    x = real_crop(first_frame, 50, 30)
    encoded, streams = codec.compress(x, 33)
    torch.save({"config": TINY.intra.to_dict(), "state_dict": codec.state_dict(), "streams": streams,
                "quality_index": 33, "size": tuple(x.shape[-2:])}, tmp_path / "encoded.pt")
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPOSITORY))
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "encoded.pt"), str(tmp_path / "decoded.pt")],
                           env=environment, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    decoded = torch.load(tmp_path / "decoded.pt")
    assert torch.equal(decoded["x_hat"], encoded.x_hat)
    assert torch.equal(decoded["feature"], encoded.feature)
