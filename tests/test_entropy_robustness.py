"""Hostile data and determinism: what the decoder promises beyond a clean round trip."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cmfr_codec.entropy import ConditionalCoder, FactorizedCoder, quantize_pmf_to_cdf
from cmfr_codec.entropy.ans import new_coder, push_escapes
from cmfr_codec.entropy.tables import categorical_model
from cmfr_codec.errors import BitstreamError

REPOSITORY = Path(__file__).resolve().parents[1]


FACTORIZED_OFFSETS = np.array([-6, -6])


def factorized_tables() -> np.ndarray:
    """Two channels over [-6, 6] plus escape."""
    support = np.arange(-6, 7)
    return np.stack([quantize_pmf_to_cdf(np.append(np.exp(-np.abs(support) / spread), 1e-3))
                     for spread in (0.8, 2.5)])


def factorized_coder() -> FactorizedCoder:
    return FactorizedCoder(factorized_tables(), FACTORIZED_OFFSETS)


def conditional_sample(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.uniform(np.log(0.05), np.log(40.0), (4, 16, 16))).astype(np.float32)
    symbols = np.rint(rng.normal(0.0, scales)).astype(np.int32)
    symbols[0, 0, :3] = [900, -70_000, 12]
    return symbols, ConditionalCoder().scale_table.index(scales)


def corruptions(data: bytes, seed: int):
    """Bit flips, truncations, appended words and garbage, all of whole 32-bit words."""
    rng = np.random.default_rng(seed)
    for bit in rng.integers(0, len(data) * 8, 150):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        yield bytes(flipped)
    for words in range(len(data) // 4):
        yield data[:words * 4]
    yield data[4:]
    yield data + bytes(4)
    yield data + rng.bytes(8)
    for length in (4, 8, 64, len(data), 4 * len(data)):
        yield rng.bytes(length)


def decode_or_bitstream_error(decode, data: bytes) -> None:
    """Let only BitstreamError through: anything else (a constriction panic included) fails the test."""
    try:
        decode(data)
    except BitstreamError:
        pass


@pytest.mark.parametrize("distribution", ["gaussian", "laplace"])
def test_corrupt_conditional_data_never_raises_anything_but_bitstream_error(distribution):
    coder = ConditionalCoder(distribution)
    symbols, indices = conditional_sample(seed=0)
    data = coder.encode(symbols, indices, 2)
    for corrupt in corruptions(data, seed=1):
        decode_or_bitstream_error(lambda blob: coder.decode(blob, indices, 2), corrupt)


def test_corrupt_factorized_data_never_raises_anything_but_bitstream_error():
    coder = factorized_coder()
    symbols = np.random.default_rng(2).integers(-9, 10, size=(2, 40, 3))
    data = coder.encode(symbols)
    for corrupt in corruptions(data, seed=3):
        decode_or_bitstream_error(lambda blob: coder.decode(blob, symbols.shape), corrupt)


@pytest.mark.parametrize("length", [1, 2, 3, 5, 11])
def test_data_that_is_not_whole_words_is_a_bitstream_error(length):
    with pytest.raises(BitstreamError, match="32-bit words"):
        ConditionalCoder().decode(bytes(length), np.zeros(3, dtype=np.int32))


def test_data_ending_in_a_zero_word_is_a_bitstream_error():
    with pytest.raises(BitstreamError):
        factorized_coder().decode(bytes([7, 0, 0, 0, 0, 0, 0, 0]), (2, 4))


def test_leftover_data_is_a_bitstream_error():
    coder = ConditionalCoder()
    symbols, indices = conditional_sample(seed=4)
    data = coder.encode(symbols, indices)
    with pytest.raises(BitstreamError, match="left after decoding"):
        coder.decode(data, indices[:2])


def test_an_escape_decoding_out_of_range_is_a_bitstream_error():
    coder = ConditionalCoder()
    forged = new_coder()
    push_escapes(forged, np.array([2**20 + 5]), np.array([0]), np.array([0]))
    forged.encode_reverse(np.array([1], dtype=np.int32), categorical_model(coder.cdfs[0]))
    data = forged.get_compressed().astype("<u4").tobytes()
    with pytest.raises(BitstreamError, match="escaped symbol"):
        coder.decode(data, np.array([0]))


CHILD = """
import hashlib, json, sys
import numpy as np
import torch
torch.set_num_threads(1)
from cmfr_codec.entropy import ConditionalCoder, FactorizedCoder

saved = np.load(sys.argv[1])
streams = json.loads(open(sys.argv[2]).read())
factorized = FactorizedCoder(list(saved["cdfs"]), saved["offsets"])
report = {}
for name in ("gaussian", "laplace"):
    coder = ConditionalCoder(name)
    decoded = coder.decode(bytes.fromhex(streams[name]), saved["indices"], 3)
    report[name] = hashlib.sha256(decoded.tobytes()).hexdigest()
    report[name + "_encoded"] = coder.encode(decoded, saved["indices"], 3).hex()
decoded = factorized.decode(bytes.fromhex(streams["factorized"]), tuple(saved["hyper_shape"]))
report["factorized"] = hashlib.sha256(decoded.tobytes()).hexdigest()
print(json.dumps(report))
"""


def test_decoding_is_bit_exact_in_another_process_with_one_thread(tmp_path):
    """The layer uses no torch and no threads; this pins that nothing thread- or process-dependent creeps in."""
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        symbols, indices = conditional_sample(seed=5)
        expected_symbols = np.where(indices < 3, 0, symbols).astype(np.int32)
        hyper = np.random.default_rng(6).integers(-9, 10, size=(2, 5, 7)).astype(np.int32)
        factorized = factorized_coder()
        streams = {name: ConditionalCoder(name).encode(symbols, indices, 3).hex() for name in ("gaussian", "laplace")}
        streams["factorized"] = factorized.encode(hyper).hex()
    finally:
        torch.set_num_threads(previous_threads)

    np.savez(tmp_path / "inputs.npz", cdfs=factorized_tables(), offsets=FACTORIZED_OFFSETS, indices=indices,
             hyper_shape=np.array(hyper.shape))
    (tmp_path / "streams.json").write_text(json.dumps(streams))
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPOSITORY))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "inputs.npz"), str(tmp_path / "streams.json")],
        env=environment, capture_output=True, text=True, timeout=120, check=True,
    )
    report = json.loads(child.stdout)

    symbols_digest = hashlib.sha256(expected_symbols.tobytes()).hexdigest()
    for name in ("gaussian", "laplace"):
        assert report[name] == symbols_digest
        assert report[name + "_encoded"] == streams[name]
    assert report["factorized"] == hashlib.sha256(hyper.tobytes()).hexdigest()
