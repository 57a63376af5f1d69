"""benchmarks/ablation.py: variants that differ only in their CMFR methods, trained alike, judged alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from benchmark_modules import load_benchmark
from training_data import make_prepared_set

from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.config import CMFR_METHODS, TINY
from cmfr_codec.weights import find_weights, load_model, save_weights

REPO = Path(__file__).resolve().parents[1]
SCALE = 0.002  # motion 2 steps (1 distilling), inter 1, inter-rate 4, cascade 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ablation")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy 2-core machine: two intra-op threads can wait on each other
    torch.manual_seed(7)
    intra = CmfrCodec(TINY).eval()
    intra.update_tables()
    source = save_weights(intra, folder / "intra-source")
    benchmark = load_benchmark("ablation")
    data = make_prepared_set(folder)
    weights = {variant: benchmark.train(variant, source.intra, folder / "run", data, SCALE, model="tiny", workers=0,
                                        checkpoint_every=1, validation_clips=1, crop=64, frames=3)
               for variant in ("cmfr", "baseline")}
    yield benchmark, source, data, folder / "run", weights
    torch.set_num_threads(threads)


def test_the_variants_share_the_intra_codec_and_differ_only_in_their_methods(trained):
    _, source, _, _, weights = trained
    codecs = {variant: load_model(find_weights(str(path)), for_coding=False).codec for variant, path in weights.items()}
    assert codecs["cmfr"].config.name == "tiny" and codecs["baseline"].config.name == "tiny-baseline"
    assert all(getattr(codecs["cmfr"].config.inter, method) for method in CMFR_METHODS)
    assert not any(getattr(codecs["baseline"].config.inter, method) for method in CMFR_METHODS)
    shared = load_model(source, for_coding=False).codec.intra.state_dict()
    for codec in codecs.values():
        assert all(torch.equal(value, shared[name]) for name, value in codec.intra.state_dict().items())


def test_every_stage_of_the_schedule_ran_and_a_rerun_skips_them(trained, capsys):
    benchmark, source, data, run, weights = trained
    for variant in weights:
        assert [stage for stage in (plan.name for plan in benchmark.SCHEDULE) if (run / variant / stage).is_dir()] == \
            ["motion", "inter", "inter-rate", "cascade"]
    capsys.readouterr()
    again = benchmark.train("baseline", source.intra, run, data, SCALE, model="tiny", workers=0, checkpoint_every=1,
                            validation_clips=1, crop=64, frames=3)
    assert again == weights["baseline"]
    assert capsys.readouterr().out.count(": done (") == len(benchmark.SCHEDULE)


def test_evaluate_codes_each_variant_and_compares_it_with_the_baseline(trained, capsys):
    benchmark, _, _, run, _ = trained
    clip = REPO / "examples" / "city_416x240_25fps.mkv"
    comparisons = benchmark.evaluate(run, ["cmfr"], [clip], frames=2, qualities="0,63")
    assert set(comparisons) == {"cmfr"}
    out = capsys.readouterr().out
    assert "cmfr against the baseline" in out and "| city_416x240_25fps.mkv | 63 |" in out
    assert (run / "eval-baseline.json").is_file() and (run / "eval-cmfr.json").is_file()
    assert "| baseline | cascade | 1 |" in out and "| cmfr | inter-rate | 4 |" in out
