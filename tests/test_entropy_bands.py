"""Row bands: a latent cut into independent ANS streams, the same bytes whoever codes them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cmfr_codec.entropy import ConditionalCoder, coder_bytes, new_coder, open_coder
from cmfr_codec.entropy import bands as band_module
from cmfr_codec.entropy.bands import (
    MAX_BANDS,
    SYMBOLS_PER_BAND,
    band_count,
    band_limit,
    band_rows,
    band_stream_names,
    coded_band_count,
)
from cmfr_codec.errors import BitstreamError
from cmfr_codec.models import stripes
from cmfr_codec.models.latent_codecs import (
    FactorizedLatentCodec,
    QuadtreeContextCodec,
    compress_with_hyperprior,
    decompress_with_hyperprior,
)

CHANNELS = 8
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("rows", [1, 2, 7, 16, 34, 135])
def test_bands_cover_every_row_once_in_order(rows):
    for count in range(1, band_limit(rows) + 1):
        covered = [row for band in band_rows(rows, count) for row in range(rows)[band]]
        assert covered == list(range(rows))
        sizes = [len(range(rows)[band]) for band in band_rows(rows, count)]
        assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_band_count_grows_with_the_nonzero_symbols_within_the_height_limit():
    assert [band_limit(rows) for rows in (1, 7, 8, 16, 34, 68, 1000)] == [1, 1, 2, 4, 8, 8, MAX_BANDS]
    assert band_count(34, 0) == 1
    assert band_count(34, 3 * SYMBOLS_PER_BAND + 1) == 3
    assert band_count(34, 100 * SYMBOLS_PER_BAND) == 8
    assert band_count(4, 100 * SYMBOLS_PER_BAND) == 1


def test_a_record_names_its_bands_without_gaps():
    assert band_stream_names("frame", 16) == ["frame", "frame_1", "frame_2", "frame_3"]
    data = b"\x01\x00\x00\x00"
    assert coded_band_count({"frame": data, "motion": data}, "frame", 16) == 1
    assert coded_band_count({"frame": data, "frame_1": data, "frame_2": data, "motion_1": data}, "frame", 16) == 3
    with pytest.raises(BitstreamError, match="missing"):
        coded_band_count({"frame_1": data}, "frame", 16)
    with pytest.raises(BitstreamError, match="not bands"):
        coded_band_count({"frame": data, "frame_2": data}, "frame", 16)
    with pytest.raises(BitstreamError, match="not bands"):
        coded_band_count({"frame": data, "frame_1": data, "frame_2": data}, "frame", 8)


def _symbols_and_indices(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, 64, size).astype(np.int32)
    scales = ConditionalCoder().scale_table.scales[indices]
    return np.rint(rng.normal(0, scales)).astype(np.int32), indices


def test_a_stack_reopened_from_its_bytes_continues_exactly():
    """What lets a band travel between processes as bytes: pushing onto a reopened stream equals
    pushing onto the same coder, and what a pop leaves reopens as the stream of the rest."""
    coder = ConditionalCoder()
    for seed in range(20):
        first, second = _symbols_and_indices(seed, 1 + seed * 37), _symbols_and_indices(100 + seed, 5 + seed * 11)
        whole = new_coder()
        coder.push(whole, *second)
        coder.push(whole, *first)
        part = new_coder()
        coder.push(part, *second)
        reopened = open_coder(coder_bytes(part))
        coder.push(reopened, *first)
        assert coder_bytes(reopened) == coder_bytes(whole)
        reading = open_coder(coder_bytes(whole))
        assert np.array_equal(coder.pop(reading, first[1]), first[0])
        rest = coder_bytes(reading)
        assert rest == coder_bytes(part)
        assert np.array_equal(coder.decode(rest, second[1]), second[0])


@pytest.fixture(scope="module")
def latent_codecs() -> tuple[FactorizedLatentCodec, QuadtreeContextCodec]:
    torch.manual_seed(0)
    factorized = FactorizedLatentCodec(CHANNELS)
    factorized.update_tables()
    return factorized, QuadtreeContextCodec(CHANNELS, CHANNELS)


def _latent(seed: int, rows: int = 32, columns: int = 96) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    z = 3 * torch.randn(1, CHANNELS, rows // 4, columns // 4, generator=generator)
    common_params = torch.randn(1, CHANNELS, rows, columns, generator=generator)
    y = 4 * torch.randn(1, CHANNELS, rows, columns, generator=generator) + common_params
    return z, y, common_params


def _code(codecs, z, y, common_params, workers: int) -> tuple[torch.Tensor, dict[str, bytes]]:
    stripes.set_worker_count(workers)
    try:
        return compress_with_hyperprior(*codecs, z, y, lambda z_hat: common_params, "frame")
    finally:
        stripes.set_worker_count(None)


def _decode(codecs, streams, z, common_params, workers: int) -> torch.Tensor:
    stripes.set_worker_count(workers)
    try:
        return decompress_with_hyperprior(*codecs, streams, "frame", tuple(z.shape[-2:]), lambda z_hat: common_params)
    finally:
        stripes.set_worker_count(None)


def test_bands_give_the_same_bytes_and_latent_in_worker_processes_or_in_this_one(latent_codecs):
    z, y, common_params = _latent(seed=1)
    y_hat, streams = _code(latent_codecs, z, y, common_params, workers=1)
    assert list(streams) == ["frame", "frame_1", "frame_2", "frame_3"]  # 16 step rows, > 3 x 4096 nonzero
    pooled_y_hat, pooled_streams = _code(latent_codecs, z, y, common_params, workers=2)
    assert pooled_streams == streams and torch.equal(pooled_y_hat, y_hat)
    for workers in (1, 2):
        assert torch.equal(_decode(latent_codecs, streams, z, common_params, workers), y_hat)


def test_a_small_latent_keeps_one_stream(latent_codecs):
    z, y, common_params = _latent(seed=2, rows=8, columns=16)
    y_hat, streams = _code(latent_codecs, z, y, common_params, workers=2)
    assert list(streams) == ["frame"]
    assert torch.equal(_decode(latent_codecs, streams, z, common_params, workers=2), y_hat)


@pytest.mark.parametrize("workers", [1, 2])
def test_damaged_bands_are_bitstream_errors_in_worker_processes_and_in_this_one(latent_codecs, workers):
    z, y, common_params = _latent(seed=3)
    _, streams = _code(latent_codecs, z, y, common_params, workers=1)
    damaged = [
        {**streams, "frame_2": streams["frame_2"][:-4]},  # truncated
        {**streams, "frame_1": streams["frame_1"] + b"\x01\x00\x00\x00"},  # a word too many
        {**streams, "frame_3": b"\x00\x00\x00"},  # not whole words
    ]
    for case in damaged:
        with pytest.raises(BitstreamError):
            _decode(latent_codecs, case, z, common_params, workers)


def test_the_band_count_follows_the_nonzero_symbols(latent_codecs, monkeypatch):
    z, y, common_params = _latent(seed=4)
    monkeypatch.setattr(band_module, "SYMBOLS_PER_BAND", 10 ** 9)
    y_hat, streams = _code(latent_codecs, z, y, common_params, workers=1)
    assert list(streams) == ["frame"]
    monkeypatch.setattr(band_module, "SYMBOLS_PER_BAND", 1)
    banded_y_hat, banded = _code(latent_codecs, z, y, common_params, workers=1)
    assert len(banded) == band_limit(16) and torch.equal(banded_y_hat, y_hat)
    assert torch.equal(_decode(latent_codecs, banded, z, common_params, workers=2), y_hat)


SCRIPT_WITHOUT_MAIN_GUARD = """
import numpy as np
from cmfr_codec.entropy.bands import BandDecoder, StepBand, encode_bands
from cmfr_codec.entropy import open_coder
rng = np.random.default_rng(0)
indices = rng.integers(0, 64, (1, 4, 8, 6)).astype(np.int32)
symbols = rng.integers(-3, 4, indices.shape).astype(np.int32)
bands = [[StepBand("gaussian", 0, symbols[..., rows, :], indices[..., rows, :])] for rows in (slice(0, 4), slice(4, 8))]
data = encode_bands(bands, workers=2)
decoder = BandDecoder(open_coder(data[0]), data[1:], workers=2)
decoded = np.concatenate(decoder.pop("gaussian", 0, [indices[..., :4, :], indices[..., 4:, :]]), axis=-2)
decoder.finish()
print("same" if np.array_equal(decoded, symbols) else "different")
"""


def test_worker_processes_start_from_a_script_without_a_main_guard(tmp_path):
    """multiprocessing's spawn would re-run such a script in every worker; the workers must not."""
    script = tmp_path / "script.py"
    script.write_text(SCRIPT_WITHOUT_MAIN_GUARD)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "same"
