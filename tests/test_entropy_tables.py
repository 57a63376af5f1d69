"""Integer CDF tables, the scale table's index map, and the table digest."""

import math

import numpy as np
import pytest

from cmfr_codec.entropy import CDF_PRECISION, ConditionalCoder, ScaleTable, conditional, quantize_pmf_to_cdf
from cmfr_codec.entropy.tables import validated_cdf
from cmfr_codec.errors import CmfrError

TOTAL = 2**CDF_PRECISION


def test_quantized_cdf_runs_from_zero_to_total_with_every_symbol_possible():
    pmf = np.random.default_rng(1).dirichlet(np.full(50, 0.05), size=20)
    pmf[:, 7] = 0.0
    cdf = quantize_pmf_to_cdf(pmf)
    assert cdf.dtype == np.int32 and cdf.shape == (20, 51)
    assert np.all(cdf[:, 0] == 0) and np.all(cdf[:, -1] == TOTAL)
    assert np.all(np.diff(cdf, axis=-1) >= 1)


def test_quantized_cdf_follows_the_pmf():
    pmf = np.array([0.5, 0.25, 0.125, 0.0625, 0.0625])
    frequencies = np.diff(quantize_pmf_to_cdf(pmf))
    assert np.all(np.abs(frequencies / TOTAL - pmf) < 1e-4)


def test_quantized_cdf_ignores_the_pmf_normalisation():
    pmf = np.random.default_rng(2).random((4, 9))
    np.testing.assert_array_equal(quantize_pmf_to_cdf(pmf), quantize_pmf_to_cdf(pmf * 37.5))


def test_quantized_cdf_of_a_single_symbol_is_certain():
    np.testing.assert_array_equal(quantize_pmf_to_cdf(np.array([0.3])), [0, TOTAL])


@pytest.mark.parametrize("pmf", [
    np.array([0.5, np.nan]),
    np.array([0.5, -0.1, 0.6]),
    np.zeros(3),
    np.zeros((2, 0)),
    np.ones(TOTAL + 1),
])
def test_quantize_rejects_unusable_pmfs(pmf):
    with pytest.raises(ValueError):
        quantize_pmf_to_cdf(pmf)


@pytest.mark.parametrize("cdf", [
    np.array([0, 100, 100, TOTAL]),
    np.array([0, 100, TOTAL - 1]),
    np.array([1, 100, TOTAL]),
    np.array([0, TOTAL]),
    np.array([0.0, 100.0, TOTAL]),
])
def test_tables_constriction_could_panic_on_are_rejected(cdf):
    with pytest.raises(ValueError):
        validated_cdf(cdf, "test")


def test_scale_index_is_monotone():
    table = ScaleTable()
    scales = np.sort(np.exp(np.random.default_rng(3).uniform(-5, 6, 10_000))).astype(np.float32)
    assert np.all(np.diff(table.index(scales)) >= 0)


def test_each_table_scale_maps_to_its_own_index():
    table = ScaleTable()
    np.testing.assert_array_equal(table.index(table.scales.astype(np.float32)), np.arange(table.count))


def test_scale_maps_to_nearest_entry_in_log():
    table = ScaleTable()
    just_below_midpoint = np.float32(math.sqrt(table.scales[10] * table.scales[11]) * 0.999)
    just_above_midpoint = np.float32(math.sqrt(table.scales[10] * table.scales[11]) * 1.001)
    assert table.index(np.array([just_below_midpoint, just_above_midpoint])).tolist() == [10, 11]


def test_degenerate_scales_clamp_to_the_table():
    table = ScaleTable()
    scales = np.array([0.0, -0.0, -3.0, -np.inf, 1e-30, 1e6, np.inf], dtype=np.float32)
    assert table.index(scales).tolist() == [0, 0, 0, 0, 0, table.count - 1, table.count - 1]


def test_nan_scale_is_rejected():
    with pytest.raises(ValueError):
        ScaleTable().index(np.array([1.0, np.nan], dtype=np.float32))


def test_scale_index_is_a_function_of_the_float32_value():
    table = ScaleTable()
    scales64 = np.exp(np.random.default_rng(4).uniform(-3, 5, 1000))
    np.testing.assert_array_equal(table.index(scales64), table.index(scales64.astype(np.float32)))


def test_scale_index_keeps_the_shape_and_returns_int32():
    indices = ScaleTable().index(np.ones((2, 3, 4), dtype=np.float32))
    assert indices.shape == (2, 3, 4) and indices.dtype == np.int32


@pytest.mark.parametrize("distribution", ["gaussian", "laplace"])
def test_default_tables_match_the_reference_digest(distribution):
    key = (distribution, 0.11, 64.0, 64)
    assert ConditionalCoder(distribution).digest == conditional._REFERENCE_DIGESTS[key]


def test_a_platform_building_other_tables_refuses_to_code(monkeypatch):
    monkeypatch.setitem(conditional._REFERENCE_DIGESTS, ("gaussian", 0.11, 64.0, 64), "0" * 64)
    with pytest.raises(CmfrError, match="different gaussian entropy tables"):
        ConditionalCoder("gaussian")


@pytest.mark.parametrize("distribution", ["gaussian", "laplace"])
def test_conditional_tables_are_valid_and_hold_all_but_the_tail_mass(distribution):
    coder = ConditionalCoder(distribution)
    upper_tail = conditional._UPPER_TAILS[distribution]
    for scale, half_width, cdf in zip(coder.scale_table.scales, coder.half_widths, coder.cdfs, strict=True):
        validated_cdf(cdf, "table")
        assert cdf.size == 2 * half_width + 3
        assert 2 * upper_tail(half_width + 0.5, scale) <= conditional.TAIL_MASS
        assert half_width == 0 or 2 * upper_tail(half_width - 0.5, scale) > conditional.TAIL_MASS


def test_unknown_distribution_is_rejected():
    with pytest.raises(ValueError):
        ConditionalCoder("cauchy")
