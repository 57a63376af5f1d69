"""Model configs are data: strict JSON round trips, named presets, and the cost counter used to size them."""

import dataclasses
import json

import pytest
import torch

from cmfr_codec.determinism import reproducible_inference
from cmfr_codec.errors import ModelError
from cmfr_codec.models.complexity import count_macs, count_parameters
from cmfr_codec.models.config import (
    CMFR_BASE,
    CMFR_METHODS,
    CMFR_S,
    PRESETS,
    TINY,
    InterConfig,
    IntraConfig,
    ModelConfig,
    preset,
    without_methods,
)
from cmfr_codec.models.inter import InterCodec
from cmfr_codec.models.intra import IntraCodec
from cmfr_codec.models.layers import conv3x3


def test_a_config_survives_a_round_trip_through_a_dict():
    assert ModelConfig.from_dict(CMFR_S.to_dict()) == CMFR_S


def test_a_config_survives_a_round_trip_through_json_text():
    text = json.dumps(CMFR_BASE.to_dict())
    assert ModelConfig.from_dict(json.loads(text)) == CMFR_BASE


def test_the_dict_holds_only_json_types():
    plain = TINY.to_dict()
    assert plain["intra"]["transform_channels"] == list(TINY.intra.transform_channels)
    assert plain["inter"]["flow_channels"] == list(TINY.inter.flow_channels)
    assert plain["inter"]["feature_residual"] is True
    assert json.loads(json.dumps(plain)) == plain


def test_an_unknown_top_level_key_is_rejected_by_name():
    data = dict(TINY.to_dict(), bidirectional={"channels": 8})
    with pytest.raises(ValueError, match="^bidirectional: unknown key"):
        ModelConfig.from_dict(data)


def test_a_model_config_without_its_inter_part_is_rejected():
    data = TINY.to_dict()
    del data["inter"]
    with pytest.raises(ValueError, match="^inter: missing"):
        ModelConfig.from_dict(data)


def test_an_unknown_nested_key_is_rejected_with_its_path():
    data = TINY.to_dict()
    data["intra"]["latent_chanels"] = 16
    with pytest.raises(ValueError, match="^intra.latent_chanels: unknown key"):
        ModelConfig.from_dict(data)


@pytest.mark.parametrize(("key", "value"), [
    ("latent_channels", "16"),
    ("latent_channels", 16.0),
    ("latent_channels", True),
    ("distribution", 1),
    ("transform_channels", [8, 12]),
    ("unet_channels", [8, 8, "8"]),
    ("transform_channels", 8),
])
def test_a_value_of_the_wrong_type_is_rejected_by_name(key, value):
    data = TINY.to_dict()
    data["intra"][key] = value
    with pytest.raises(ValueError, match=f"^intra.{key}: expected"):
        ModelConfig.from_dict(data)


@pytest.mark.parametrize(("key", "value"), [
    ("feature_residual", 1),
    ("sff", "true"),
    ("motion_refiner", None),
    ("flow_channels", 16),
    ("flow_channels", [16, 16.0]),
    ("context_channels", [8, 8]),
    ("latent_channels", False),
])
def test_an_inter_value_of_the_wrong_type_is_rejected_by_name(key, value):
    data = TINY.to_dict()
    data["inter"][key] = value
    with pytest.raises(ValueError, match=f"^inter.{key}: expected"):
        ModelConfig.from_dict(data)


def test_the_cmfr_switches_round_trip_as_json_booleans_and_flow_widths_take_any_length():
    config = dataclasses.replace(TINY.inter, feature_residual=False, sff=False, motion_refiner=False,
                                 flow_channels=(8, 8, 8, 4, 4))
    assert InterConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_a_missing_required_key_is_rejected_by_name():
    data = TINY.to_dict()
    del data["intra"]["hyper_channels"]
    with pytest.raises(ValueError, match="^intra.hyper_channels: missing"):
        ModelConfig.from_dict(data)


def test_a_missing_key_with_a_default_takes_the_default():
    data = TINY.intra.to_dict()
    del data["skip_below_index"]
    assert IntraConfig.from_dict(data).skip_below_index == 0


def test_weights_from_before_density_bands_have_one_and_new_models_eight():
    data = TINY.to_dict()
    del data["intra"]["density_bands"], data["inter"]["density_bands"]
    old = ModelConfig.from_dict(data)
    assert old.intra.density_bands == old.inter.density_bands == 1
    assert TINY.intra.density_bands == TINY.inter.density_bands == 8


@pytest.mark.parametrize(("key", "value"), [
    ("latent_channels", 18),
    ("hyper_channels", 0),
    ("unet_channels", (8, 0, 8)),
    ("distribution", "cauchy"),
    ("skip_below_index", -1),
    ("density_bands", 0),
    ("density_bands", 65),
])
def test_values_no_network_can_be_built_from_are_rejected_by_name(key, value):
    with pytest.raises(ValueError, match=f"^{key}:"):
        dataclasses.replace(TINY.intra, **{key: value})


@pytest.mark.parametrize(("key", "value"), [
    ("latent_channels", 18),
    ("motion_latent_channels", 6),
    ("flow_channels", ()),
    ("flow_levels", 0),
    ("transform_channels", (8, 0, 8)),
    ("alignment_groups", 3),
    ("distribution", "cauchy"),
    ("skip_below_index", -1),
    ("density_bands", 0),
])
def test_inter_values_no_network_can_be_built_from_are_rejected_by_name(key, value):
    field = "context_channels" if key == "alignment_groups" else key
    with pytest.raises(ValueError, match=f"^{field}:"):
        dataclasses.replace(TINY.inter, **{key: value})


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TINY.intra.latent_channels = 32


@pytest.mark.parametrize("name", ["cmfr-s", "cmfr-base", "tiny"])
def test_every_preset_is_found_by_its_name_and_builds_an_intra_and_an_inter_codec(name):
    config = preset(name)
    assert config.name == name
    assert count_parameters(IntraCodec(config.intra)) > 0
    assert count_parameters(InterCodec(config.inter)) > 0


def test_the_shipped_default_fits_about_four_million_parameters_in_one_weights_file():
    total = count_parameters(IntraCodec(CMFR_S.intra)) + count_parameters(InterCodec(CMFR_S.inter))
    assert total <= 4.05e6


def test_an_unknown_preset_name_lists_the_known_ones():
    with pytest.raises(ModelError, match="cmfr-s, cmfr-base, tiny"):
        preset("cmfr-xl")
    assert set(PRESETS) == {"cmfr-s", "cmfr-base", "tiny"}


def test_count_macs_counts_one_per_weight_per_output_pixel():
    convolution = torch.nn.Conv2d(2, 3, kernel_size=3, padding=1)
    assert count_macs(convolution, (torch.zeros(1, 2, 8, 8),)) == 8 * 8 * 3 * 2 * 3 * 3


def test_count_macs_counts_a_depthwise_convolution_per_group():
    convolution = torch.nn.Conv2d(4, 4, kernel_size=3, padding=1, groups=4)
    assert count_macs(convolution, (torch.zeros(1, 4, 8, 8),)) == 8 * 8 * 4 * 3 * 3


def test_count_parameters_counts_weights_and_biases():
    assert count_parameters(torch.nn.Conv2d(2, 3, kernel_size=3)) == 3 * 2 * 3 * 3 + 3


def test_count_macs_counts_convolutions_that_coding_runs_in_stripes():
    """Coding runs tall convolutions in row stripes on worker threads, which a flop counter on the
    calling thread would not see: under the counter they run whole, and count as the network's MACs."""
    convolution = conv3x3(8, 8)
    with reproducible_inference():
        macs = count_macs(convolution, (torch.zeros(1, 8, 256, 32),))
    assert macs == 256 * 32 * 8 * 8 * 3 * 3


def test_switching_methods_off_names_the_model_for_the_ablation_and_keeps_everything_else():
    baseline = without_methods(CMFR_S, CMFR_METHODS)
    assert baseline.name == "cmfr-s-baseline"
    assert not any(getattr(baseline.inter, method) for method in CMFR_METHODS)
    assert baseline.intra == CMFR_S.intra
    assert dataclasses.replace(baseline.inter, feature_residual=True, sff=True, motion_refiner=True) == CMFR_S.inter
    no_sff = without_methods(CMFR_S, ["sff"])
    assert no_sff.name == "cmfr-s-no-sff" and not no_sff.inter.sff and no_sff.inter.feature_residual
    assert without_methods(CMFR_S, ["motion_refiner", "feature_residual"]).name == \
        "cmfr-s-no-feature-residual-no-motion-refiner"
    assert without_methods(CMFR_S, []) is CMFR_S
    with pytest.raises(ModelError, match="no CMFR method named 'masks'"):
        without_methods(CMFR_S, ["masks"])
