"""benchmarks/integer_cost.py's starting points: equal but for the integer flag and fresh entropy networks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from benchmark_modules import load_benchmark

from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.config import TINY
from cmfr_codec.weights import find_weights, load_model, save_weights

REPO = Path(__file__).resolve().parents[1]
SEED = 0


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Source tiny weights (another seed than the fresh networks'), and the two prepared starting points."""
    folder = tmp_path_factory.mktemp("integer-cost")
    torch.manual_seed(SEED + 1)
    source = CmfrCodec(TINY).eval()
    source.update_tables()
    source_files = save_weights(source, folder / "source")
    benchmark = load_benchmark("integer_cost")
    files = benchmark.prepare(str(source_files.intra), SEED, folder / "run")
    codecs = {variant: load_model(find_weights(str(pair.intra))).codec for variant, pair in files.items()}
    return benchmark, load_model(source_files).codec.state_dict(), codecs


def test_the_two_starting_points_differ_only_in_the_integer_flag(prepared):
    _, _, codecs = prepared
    configs = {variant: codec.config.to_dict() for variant, codec in codecs.items()}
    for part in ("intra", "inter"):
        assert configs["integer"][part].pop("integer_entropy") is True
        assert configs["float"][part].pop("integer_entropy") is False
    assert configs["float"].pop("name") == f"{configs['integer'].pop('name')}-float"
    assert configs["integer"] == configs["float"]


def test_the_entropy_parameter_networks_are_the_modules_the_flag_changes(prepared):
    benchmark, _, codecs = prepared
    entropy = benchmark.entropy_parameter_tensors(codecs["integer"], codecs["float"])
    modules = {".".join(key.split(".")[:3]) for key in entropy}
    for expected in ("intra.hyper_synthesis.0", "intra.y_codec.parameter_networks", "inter.motion_prior.0",
                     "inter.latent_prior.0", "inter.motion_codec.hyper_synthesis", "inter.motion_codec.prior_fusion",
                     "inter.latent_codec.prior_fusion", "inter.latent_codec.y_codec", "inter.context_prior.conv1"):
        assert expected in modules
    assert not any(".analysis." in key or "hyper_analysis" in key or "z_codec" in key for key in entropy)


def test_entropy_networks_are_fresh_from_the_shared_seed_and_equal_wherever_shapes_match(prepared):
    benchmark, source, codecs = prepared
    states = {variant: codec.state_dict() for variant, codec in codecs.items()}
    torch.manual_seed(SEED)
    fresh = CmfrCodec(codecs["integer"].config).state_dict()
    entropy = benchmark.entropy_parameter_tensors(codecs["integer"], codecs["float"])
    shared = [key for key in entropy if key in states["integer"] and key in states["float"]
              and states["integer"][key].shape == states["float"][key].shape]
    assert len(shared) > 20
    for key in shared:
        assert torch.equal(states["integer"][key], fresh[key]), key
        assert torch.equal(states["float"][key], states["integer"][key]), key
        assert not torch.equal(states["integer"][key], source[key]), key


def test_every_other_tensor_is_the_source_weights(prepared):
    benchmark, source, codecs = prepared
    entropy = benchmark.entropy_parameter_tensors(codecs["integer"], codecs["float"])
    for variant, codec in codecs.items():
        others = {key: value for key, value in codec.state_dict().items() if key not in entropy}
        assert len(others) > 100
        for key, value in others.items():
            assert torch.equal(value, source[key]), f"{variant}: {key}"
