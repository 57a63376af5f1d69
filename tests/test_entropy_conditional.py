"""ConditionalCoder: table-indexed Gaussian and Laplace coding of latents."""

import numpy as np
import pytest

from cmfr_codec.entropy import SYMBOL_LIMIT, ConditionalCoder

DISTRIBUTIONS = ["gaussian", "laplace"]


@pytest.fixture(scope="module", params=DISTRIBUTIONS)
def coder(request) -> ConditionalCoder:
    return ConditionalCoder(request.param)


def latent_like(coder: ConditionalCoder, shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Symbols drawn from the coder's own distribution at log-uniform scales, and their indices."""
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.uniform(np.log(0.05), np.log(80.0), shape)).astype(np.float32)
    if coder.distribution == "gaussian":
        noise = rng.normal(0.0, scales)
    else:
        noise = rng.laplace(0.0, scales)
    return np.rint(noise).astype(np.int32), coder.scale_table.index(scales)


def round_trip(coder: ConditionalCoder, symbols: np.ndarray, indices: np.ndarray, skip: int = 0) -> np.ndarray:
    return coder.decode(coder.encode(symbols, indices, skip), indices, skip)


def test_round_trip_of_latent_like_data(coder):
    symbols, indices = latent_like(coder, (16, 24, 40), seed=0)
    decoded = round_trip(coder, symbols, indices)
    assert decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded, symbols)


def test_support_edges_and_just_beyond_round_trip(coder):
    indices = np.repeat(np.arange(coder.scale_table.count), 4)
    half_width = coder.half_widths[indices[::4]]
    symbols = np.stack([half_width, -half_width, half_width + 1, -half_width - 1], axis=1).reshape(-1)
    np.testing.assert_array_equal(round_trip(coder, symbols, indices), symbols)


def test_values_past_the_support_are_escaped_not_clipped(coder):
    symbols = np.array([SYMBOL_LIMIT - 1, -(SYMBOL_LIMIT - 1), 5000, -77, 1, 0])
    indices = np.array([0, 0, 10, 0, 0, 63])
    np.testing.assert_array_equal(round_trip(coder, symbols, indices), symbols)


def test_all_zero_input_round_trips(coder):
    symbols = np.zeros((4, 9, 9), dtype=np.int32)
    indices = np.random.default_rng(1).integers(0, 64, symbols.shape)
    np.testing.assert_array_equal(round_trip(coder, symbols, indices), symbols)


def test_empty_input_codes_to_nothing(coder):
    empty = np.zeros((3, 0, 4), dtype=np.int32)
    assert coder.encode(empty, empty) == b""
    assert coder.decode(b"", empty).shape == (3, 0, 4)


def test_one_symbol_round_trips(coder):
    for value, index in [(0, 0), (3, 30), (-1, 5), (12345, 63)]:
        assert round_trip(coder, np.array([value]), np.array([index])).tolist() == [value]


def test_skipped_positions_decode_as_zero_and_the_rest_exactly(coder):
    symbols, indices = latent_like(coder, (8, 16, 16), seed=2)
    mask = coder.skip_mask(indices, 6)
    decoded = round_trip(coder, symbols, indices, skip=6)
    np.testing.assert_array_equal(mask, indices < 6)
    assert 0 < mask.mean() < 1
    np.testing.assert_array_equal(decoded, np.where(mask, 0, symbols))


def test_skipping_every_index_codes_nothing(coder):
    symbols, indices = latent_like(coder, (2, 5, 5), seed=3)
    count = coder.scale_table.count
    assert coder.encode(symbols, indices, count) == b""
    assert not coder.decode(b"", indices, count).any()


def test_skipping_costs_fewer_bits(coder):
    symbols, indices = latent_like(coder, (8, 32, 32), seed=4)
    assert len(coder.encode(symbols, indices, 10)) < len(coder.encode(symbols, indices))


def test_actual_bits_within_one_percent_of_the_ideal_bits_over_a_million_symbols(coder):
    symbols, indices = latent_like(coder, (1_000_000,), seed=5)
    actual = len(coder.encode(symbols, indices)) * 8
    assert abs(actual / coder.ideal_bits(symbols, indices) - 1) < 0.01


def test_the_byte_format_is_frozen():
    coder = ConditionalCoder("gaussian")
    symbols = np.array([0, 1, -1, 3, -40, 100_000, 0, 2])
    indices = np.array([0, 10, 20, 30, 40, 63, 63, 50])
    assert coder.encode(symbols, indices).hex() == "4efefff8007db1c43582fd03"


@pytest.mark.parametrize("symbols, indices, skip", [
    (np.array([SYMBOL_LIMIT]), np.array([3]), 0),
    (np.array([1.0]), np.array([3]), 0),
    (np.array([1]), np.array([64]), 0),
    (np.array([1]), np.array([-1]), 0),
    (np.array([1]), np.array([3.0]), 0),
    (np.array([1, 2]), np.array([3]), 0),
    (np.array([1]), np.array([3]), 65),
    (np.array([1]), np.array([3]), -1),
])
def test_programmer_errors_raise_value_error(symbols, indices, skip):
    with pytest.raises(ValueError):
        ConditionalCoder().encode(symbols, indices, skip)
