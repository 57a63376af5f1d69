"""Decode anywhere: a stream's symbols decode identically under another CPU backend, in both directions.

The encoder runs in one child process and the decoder in another, one with torch's default
CPU kernels and the other with ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2`` (scalar
ATen kernels, oneDNN limited to AVX2).  The decoded latents in coded units (symbols plus
means) and the motion latents must be equal bit for bit: they are what the entropy decoder
produced, so equality means no table index differed.  The pictures themselves may differ in
their last bits between backends (docs/determinism.md); that is allowed and reported.
"""

import os
import subprocess
import sys

import pytest
import torch
from clips import REPO, example_frames, random_tiny_codec

from cmfr_codec.pipeline import frame_to_tensor

ODD_BACKEND = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "AVX2"}
FRAMES = 4

CHILD = r"""
import sys
import torch
from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.config import TINY
from cmfr_codec.models.dpb import DecodedPictureBuffer

mode, model_path, data_path, output_path = sys.argv[1:]
codec = CmfrCodec(TINY)
codec.load_state_dict(torch.load(model_path))
codec.eval()
data = torch.load(data_path)
quality = 40
latents, pictures, streams = [], [], []
buffer = None
for number in range(len(data["streams"] if mode == "decode" else data["frames"])):
    if mode == "encode":
        x = data["frames"][number]
        if number == 0:
            decoded, coded = codec.intra.compress(x, quality)
        else:
            decoded, coded = codec.inter.compress(x, buffer, quality)
        streams.append(coded)
    else:
        coded = data["streams"][number]
        if number == 0:
            decoded = codec.intra.decompress(coded, quality, *data["grid"])
        else:
            decoded = codec.inter.decompress(coded, buffer, quality)
    if number == 0:
        buffer = DecodedPictureBuffer(frame=decoded.x_hat)
        latents.append((decoded.latent,))
    else:
        buffer = decoded.dpb
        latents.append((decoded.dpb.latent, decoded.dpb.motion_latent))
    pictures.append(decoded.x_hat)
torch.save({"streams": streams, "latents": latents, "pictures": pictures, "grid": data.get("grid")}, output_path)
"""


def run_child(mode: str, backend: dict[str, str], model: str, data: str, output: str) -> dict:
    environment = {key: value for key, value in os.environ.items() if key not in ODD_BACKEND}
    environment.update(backend, PYTHONPATH=str(REPO))
    child = subprocess.run([sys.executable, "-c", CHILD, mode, model, data, output], env=environment,
                           capture_output=True, text=True, timeout=300, check=False)
    assert child.returncode == 0, child.stderr
    return torch.load(output)


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A tiny random-weights model and 4 real frames (64x64), as files for the children."""
    directory = tmp_path_factory.mktemp("anywhere")
    codec = random_tiny_codec()
    model = str(directory / "model.pt")
    torch.save(codec.state_dict(), model)
    frames = [frame_to_tensor(frame, "cpu") for frame in example_frames(FRAMES, width=64, height=64)]
    data = str(directory / "frames.pt")
    torch.save({"frames": frames}, data)
    return model, data


@pytest.mark.parametrize("encoder_backend, decoder_backend", [({}, ODD_BACKEND), (ODD_BACKEND, {})],
                         ids=["default-encodes-odd-decodes", "odd-encodes-default-decodes"])
def test_symbols_decode_identically_under_another_cpu_backend(material, tmp_path, encoder_backend, decoder_backend):
    model, frames = material
    encoded = run_child("encode", encoder_backend, model, frames, str(tmp_path / "encoded.pt"))
    streams = str(tmp_path / "streams.pt")
    torch.save({"streams": encoded["streams"], "grid": (32, 32)}, streams)
    decoded = run_child("decode", decoder_backend, model, streams, str(tmp_path / "decoded.pt"))
    assert len(decoded["latents"]) == FRAMES
    for number, (expected, actual) in enumerate(zip(encoded["latents"], decoded["latents"], strict=True)):
        for which, (a, b) in enumerate(zip(expected, actual, strict=True)):
            assert torch.equal(a, b), f"frame {number}, latent {which}: the decoder's symbols differ"
