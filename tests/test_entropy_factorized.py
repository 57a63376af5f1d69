"""FactorizedCoder: per-channel integer tables for hyper-latents."""

import numpy as np
import pytest

from cmfr_codec.entropy import SYMBOL_LIMIT, FactorizedCoder, quantize_pmf_to_cdf


def discretised_laplace_tables(widths: list[int], spreads: list[float]) -> list[np.ndarray]:
    """One CDF per channel over [-w, w] plus an escape carrying the tail mass."""
    cdfs = []
    for width, spread in zip(widths, spreads, strict=True):
        support = np.arange(-width, width + 1)
        pmf = np.exp(-np.abs(support) / spread)
        tail = 2 * np.exp(-(width + 0.5) / spread)
        cdfs.append(quantize_pmf_to_cdf(np.append(pmf, tail)))
    return cdfs


@pytest.fixture
def coder() -> FactorizedCoder:
    widths = [3, 8, 20]
    return FactorizedCoder(discretised_laplace_tables(widths, [0.5, 2.0, 6.0]), np.array([-w for w in widths]))


def test_round_trip_with_escapes_on_both_sides(coder):
    symbols = np.random.default_rng(0).integers(-40, 41, size=(3, 17, 11))
    symbols[0, 0, :4] = [-(SYMBOL_LIMIT - 1), SYMBOL_LIMIT - 1, -4, 4]
    decoded = coder.decode(coder.encode(symbols), symbols.shape)
    assert decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded, symbols)


def test_round_trip_of_support_edges(coder):
    edges = np.array([[-3, 3, -4, 4], [-8, 8, -9, 9], [-20, 20, -21, 21]])
    np.testing.assert_array_equal(coder.decode(coder.encode(edges), edges.shape), edges)


def test_equal_length_tables_can_come_as_one_array():
    tables = np.stack(discretised_laplace_tables([5, 5], [1.0, 3.0]))
    coder = FactorizedCoder(tables, np.array([-5, -2]))
    symbols = np.random.default_rng(1).integers(-9, 9, size=(2, 64))
    np.testing.assert_array_equal(coder.decode(coder.encode(symbols), symbols.shape), symbols)


def test_all_zero_input_round_trips(coder):
    symbols = np.zeros((3, 8, 8), dtype=np.int32)
    np.testing.assert_array_equal(coder.decode(coder.encode(symbols), symbols.shape), symbols)


def test_empty_input_codes_to_nothing(coder):
    assert coder.encode(np.zeros((3, 0, 5), dtype=np.int32)) == b""
    assert coder.decode(b"", (3, 0, 5)).shape == (3, 0, 5)


def test_one_symbol_round_trips():
    coder = FactorizedCoder(discretised_laplace_tables([2], [1.0]), np.array([-2]))
    for value in (0, 2, -3, 1000):
        assert coder.decode(coder.encode(np.array([value])), (1,)).tolist() == [value]


def test_actual_bits_match_the_ideal_bits_of_the_integer_tables(coder):
    rng = np.random.default_rng(2)
    symbols = np.rint(rng.laplace(0.0, [[0.5], [2.0], [6.0]], size=(3, 100_000))).astype(np.int32)
    actual = len(coder.encode(symbols)) * 8
    assert abs(actual / coder.ideal_bits(symbols) - 1) < 0.01


def test_symbols_beyond_the_limit_are_rejected(coder):
    symbols = np.zeros((3, 2), dtype=np.int64)
    symbols[1, 1] = SYMBOL_LIMIT
    with pytest.raises(ValueError):
        coder.encode(symbols)


def test_float_symbols_are_rejected(coder):
    with pytest.raises(ValueError):
        coder.encode(np.zeros((3, 2), dtype=np.float32))


def test_wrong_channel_count_is_rejected(coder):
    with pytest.raises(ValueError):
        coder.encode(np.zeros((2, 5), dtype=np.int32))
    with pytest.raises(ValueError):
        coder.decode(b"", (4, 5))


def test_a_table_with_an_impossible_symbol_is_rejected_before_constriction_sees_it():
    with pytest.raises(ValueError):
        FactorizedCoder([np.array([0, 500, 500, 2**16])], np.array([0]))


def test_offsets_must_match_the_tables():
    with pytest.raises(ValueError):
        FactorizedCoder(discretised_laplace_tables([2, 2], [1.0, 1.0]), np.array([0]))


def test_the_byte_format_is_frozen():
    coder = FactorizedCoder(discretised_laplace_tables([2, 6], [0.7, 3.0]), np.array([-2, -4]))
    symbols = np.array([[0, 1, -2, 3, 0], [5, -4, 2, 7, -30]])
    assert coder.encode(symbols).hex() == "4cb5fc2899015a952a000000"
