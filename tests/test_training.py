"""cmfr train: every stage runs on real prepared data, losses fall, weights code video, resume is exact."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from training_data import make_prepared_set

from cmfr_codec.data.dataset import TRAIN, StillDataset
from cmfr_codec.errors import InputError
from cmfr_codec.models.config import preset
from cmfr_codec.models.latent_codecs import FactorizedLatentCodec
from cmfr_codec.models.motion import warp
from cmfr_codec.training import trainer
from cmfr_codec.training.distributed import ProcessPlace
from cmfr_codec.training.flow_teacher import SYNTHETIC_LOCAL, SYNTHETIC_SHIFT, synthetic_motion
from cmfr_codec.training.stages import STAGE_ORDER, load_stage, stage_names, with_overrides
from cmfr_codec.training.trainer import (
    CHECKPOINT_NAME,
    DISTILL_COLUMN,
    RunSettings,
    load_checkpoint,
    read_log,
    run_stages,
    step_batches,
)

TINY_RUN = ("--model-config", "tiny", "--batch", "2", "--crop", "64", "--frames", "3", "--workers", "0",
            "--log-every", "1", "--validation-clips", "1", "--learning-rate", "1e-3", "--device", "cpu")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # On a busy 2-core machine, two intra-op threads can wait on each other for seconds per step.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_prepared_set(tmp_path_factory.mktemp("training"))


@pytest.fixture(scope="module")
def all_stages(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cmfr_codec.cli.main import main

    output = tmp_path_factory.mktemp("run") / "tiny"
    main(["train", "--data", str(prepared), "--output", str(output), "--steps", "6", "--validate-every", "6", *TINY_RUN])
    return output


def test_every_shipped_stage_config_loads_and_all_runs_them_in_the_order_of_the_design():
    assert STAGE_ORDER == ("intra", "motion", "inter", "inter-rate", "cascade", "densities")
    stages = {name: load_stage(name) for name in stage_names()}
    assert [stages[name].trains for name in STAGE_ORDER] == ["intra", "motion", "inter", "inter", "inter", "densities"]
    assert stages["motion"].warp_weight == 0 and stages["inter"].rate_weight == 0
    assert stages["inter-rate"].rate_weight > 0 and 3 <= stages["cascade"].frames <= 7
    assert stages["msssim"].distortion == "msssim"
    assert stages["intra"].still_share == 0.25 and stages["motion"].distill_steps > 0
    assert all(stages[name].still_share == 0 for name in stage_names() if name != "intra")
    assert all(stages[name].distill_steps == 0 for name in stage_names() if name != "motion")


def test_a_stage_config_with_a_mistake_is_refused_by_name(tmp_path: Path):
    from cmfr_codec.errors import InputError

    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ntrains = "everything"\nsteps = 1\nbatch = 1\ncrop = 64\n'
                   'frames = 1\nlearning_rate = 1e-4\nfinal_learning_rate = 1e-5\n')
    with pytest.raises(InputError, match="trains must be one of"):
        load_stage(bad)
    with pytest.raises(InputError, match="crop must be a positive multiple of 64"):
        with_overrides(load_stage("intra"), crop=100)
    with pytest.raises(InputError, match="still_share applies to intra stages only"):
        with_overrides(load_stage("motion"), still_share=0.5)
    with pytest.raises(InputError, match="distill_steps applies to motion stages only"):
        with_overrides(load_stage("intra"), distill_steps=10)


def test_the_distillation_weight_falls_linearly_to_zero_after_distill_steps():
    motion = with_overrides(load_stage("motion"), distill_steps=4, distill_weight=2.0)
    assert [motion.distill_weight_at(step) for step in range(1, 7)] == [2.0, 1.5, 1.0, 0.5, 0.0, 0.0]


@pytest.mark.parametrize("stage", STAGE_ORDER)
def test_each_stage_lowers_its_held_out_loss_in_a_few_steps(all_stages: Path, stage: str):
    validation = read_log(all_stages / stage / "validation.csv")
    assert [row["step"] for row in validation] == [0, 6]
    assert validation[-1]["loss"] < validation[0]["loss"]
    training = read_log(all_stages / stage / "train.csv")
    assert [row["step"] for row in training] == list(range(1, 7))
    assert all(row["bpp"] > 0 and row["psnr"] > 0 for row in training)


def test_the_weights_of_the_last_stage_encode_and_decode_video(all_stages: Path, run_cmfr, tmp_path: Path):
    clip = Path(__file__).resolve().parents[1] / "examples" / "city_416x240_25fps.mkv"
    weights = all_stages / STAGE_ORDER[-1] / "tiny.intra.cmfrw"
    encoded = run_cmfr("encode", clip, tmp_path / "out.bin", "--model", weights, "--frames", "3", "--quality", "40")
    assert encoded.exit_code == 0, encoded.stderr
    decoded = run_cmfr("decode", tmp_path / "out.bin", tmp_path / "out.y4m", "--model", weights)
    assert decoded.exit_code == 0, decoded.stderr
    assert (tmp_path / "out.y4m").stat().st_size > 0


def _stage(name: str, steps: int, **overrides) -> list:
    return [with_overrides(load_stage(name), steps=steps, batch=2, crop=64, checkpoint_every=2, log_every=1,
                           validate_every=steps, validation_clips=1, learning_rate=1e-3, final_learning_rate=1e-4,
                           **overrides)]


def _intra_batches(prepared: Path, seed: int, batch: int, still_share: float):
    stage = with_overrides(load_stage("intra"), steps=200, batch=batch, crop=64, still_share=still_share)
    return step_batches(stage, prepared, 1, seed, ProcessPlace(0, 1, "cpu"))


def test_distilling_motion_batches_end_with_synthetic_pairs_whose_target_is_their_exact_flow(prepared: Path):
    stage = with_overrides(load_stage("motion"), steps=10, batch=4, crop=64, distill_steps=3)
    assert stage.synthetic_motion == 0.5 and stage.max_frame_stride > 1, "the shipped motion stage makes half its pairs"
    batches = step_batches(stage, prepared, 1, 7, ProcessPlace(0, 1, "cpu"))
    for step in (1, 2, 3):
        batch = batches[step - 1]
        assert batch.flow_targets.shape == (4, 1, 2, 32, 32)
        exact = [torch.equal(warp(batch.snippets[item, :1], batch.flow_targets[item]), batch.snippets[item, 1:])
                 for item in range(4)]
        assert exact == [False, False, True, True], step
        assert torch.equal(batch.flow_targets, batches[step - 1].flow_targets), "the same step gives the same pairs"
    assert batches[3].flow_targets is None, "after distill_steps, no targets and no synthetic pairs"


def test_synthetic_motion_is_a_smooth_bounded_flow_that_moves_frame_0_into_frame_1():
    generator = np.random.default_rng(3)
    pair = torch.rand(2, 6, 40, 48)
    made, flow = synthetic_motion(pair, generator)
    assert flow.shape == (1, 2, 40, 48) and torch.equal(made[:1], pair[:1])
    assert torch.equal(made[1:], warp(pair[:1], flow))
    assert flow.abs().max() <= SYNTHETIC_SHIFT + 1.3 * SYNTHETIC_LOCAL
    assert (flow[..., 1:, :] - flow[..., :-1, :]).abs().max() < 1.0, "smooth: neighbours move alike"
    pair_codes = (pair * 255).round().to(torch.uint8)
    codes, same_flow = synthetic_motion(pair_codes, np.random.default_rng(3))
    assert torch.equal(same_flow, flow) and codes.dtype == torch.uint8
    assert torch.equal(codes[1:], (warp(pair_codes[:1].float() / 255, flow) * 255).round().to(torch.uint8))
    with pytest.raises(ValueError, match="pairs"):
        synthetic_motion(torch.rand(3, 6, 8, 8), generator)


@pytest.mark.parametrize(("stage", "overrides"), [("inter", {}), ("motion", {"frames": 3})])
def test_synthetic_motion_is_refused_outside_motion_pairs(stage: str, overrides: dict):
    with pytest.raises(InputError, match="synthetic_motion"):
        with_overrides(load_stage(stage), synthetic_motion=0.5, **overrides)


def test_intra_batches_hold_still_crops_at_the_configured_share(prepared: Path):
    batches = _intra_batches(prepared, seed=7, batch=4, still_share=0.25)
    stills = StillDataset(prepared, TRAIN, crop=64, seed=7, repeats=1)
    for step in (1, 2, 3):
        clip_items, still_items = batches.draw(step)
        assert (len(clip_items), len(still_items)) == (3, 1)
        stills.set_epoch(step)
        snippets = batches[step - 1].snippets
        assert snippets.shape == (4, 1, 6, 32, 32)
        assert torch.equal(snippets[3, 0], stills[int(still_items[0])]), "the last sample is a random crop of a still"
    uneven = _intra_batches(prepared, seed=7, batch=2, still_share=0.25)
    counts = [len(uneven.draw(step)[1]) for step in range(1, 201)]
    assert set(counts) == {0, 1} and 80 <= sum(counts) <= 120, "2 x 0.25: one still in every other batch, on average"


def test_the_still_crops_of_a_run_are_the_same_for_the_same_seed(prepared: Path):
    draws = [[len(batches.draw(step)[1]) for step in range(1, 41)]
             for batches in (_intra_batches(prepared, seed, 2, 0.25) for seed in (1, 1, 2))]
    assert draws[0] == draws[1] != draws[2]
    first, again = _intra_batches(prepared, 1, 2, 0.25), _intra_batches(prepared, 1, 2, 0.25)
    assert all(torch.equal(first[index].snippets, again[index].snippets) for index in range(5))


class Killed(Exception):
    pass


# inter-rate as it ships; intra with a still in every batch; motion distilling before and after the kill.
RESUMED_STAGES = {"inter-rate": {}, "intra": {"still_share": 0.5}, "motion": {"distill_steps": 6}}


@pytest.mark.parametrize("name", RESUMED_STAGES)
def test_resume_after_a_kill_continues_the_loss_curve_of_an_uninterrupted_run(prepared: Path, tmp_path: Path,
                                                                             name: str):
    stage = _stage(name, 6, **RESUMED_STAGES[name])
    whole = RunSettings(data=prepared, output=tmp_path / "whole", seed=5, workers=0, report=lambda message: None)
    run_stages(stage, whole, "tiny")

    def kill_after_step_5(stage: str, step: int, row: dict) -> None:
        if step == 5:
            raise Killed()

    interrupted = RunSettings(data=prepared, output=tmp_path / "cut", seed=5, workers=0,
                              report=lambda message: None, on_step=kill_after_step_5)
    with pytest.raises(Killed):
        run_stages(stage, interrupted, "tiny")
    checkpoint = tmp_path / "cut" / name / CHECKPOINT_NAME
    assert load_checkpoint(checkpoint).step == 4
    resumed = RunSettings(data=prepared, output=tmp_path / "cut", seed=99, workers=0, report=lambda message: None)
    run_stages(stage, resumed, "tiny", resume=checkpoint)
    assert read_log(tmp_path / "cut" / name / "train.csv") == read_log(tmp_path / "whole" / name / "train.csv")
    final = [load_checkpoint(path / name / CHECKPOINT_NAME) for path in (tmp_path / "whole", tmp_path / "cut")]
    assert final[0].step == final[1].step == 6
    assert all(torch.equal(final[0].model[key], final[1].model[key]) for key in final[0].model)


def test_the_motion_stage_logs_its_distillation_term_while_distilling_and_not_after(prepared: Path,
                                                                                   tmp_path: Path):
    settings = RunSettings(data=prepared, output=tmp_path, seed=2, workers=0, report=lambda message: None)
    run_stages(_stage("motion", 4, distill_steps=2), settings, "tiny")
    rows = read_log(tmp_path / "motion" / "train.csv")
    assert [row["step"] for row in rows] == [1, 2, 3, 4]
    assert [DISTILL_COLUMN in row for row in rows] == [True, True, False, False]
    assert all(row[DISTILL_COLUMN] > 0 for row in rows[:2])


def test_a_prepared_set_without_stills_trains_the_intra_stage_on_frames_and_says_so(tmp_path: Path):
    prepared = make_prepared_set(tmp_path / "set", train_stills=False)
    notes = []
    settings = RunSettings(data=prepared, output=tmp_path / "run", seed=0, workers=0, report=notes.append)
    run_stages(_stage("intra", 1), settings, "tiny")
    assert [row["step"] for row in read_log(tmp_path / "run" / "intra" / "train.csv")] == [1]
    assert any("no still images in the train split" in note and "falls back to 0" in note for note in notes)


def test_data_loader_workers_do_not_change_the_run(prepared: Path, tmp_path: Path):
    logs = []
    for workers in (0, 2):
        settings = RunSettings(data=prepared, output=tmp_path / str(workers), seed=3, workers=workers,
                               report=lambda message: None)
        run_stages(_stage("intra", 3), settings, "tiny")
        logs.append(read_log(tmp_path / str(workers) / "intra" / "train.csv"))
    assert logs[0] == logs[1]


def test_user_errors_are_one_red_line(run_cmfr, prepared: Path, tmp_path: Path):
    missing = run_cmfr("train", "--data", tmp_path / "nothing", "--output", tmp_path / "run", *TINY_RUN)
    assert missing.exit_code == 2 and "is not a prepared set" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    too_big = run_cmfr("train", "--stage", "intra", "--data", prepared, "--output", tmp_path / "run", *TINY_RUN[:4],
                       "--crop", "192")
    assert too_big.exit_code == 2 and "crop must be even and at most 120" in too_big.stderr
    bad_resume = run_cmfr("train", "--resume", tmp_path / "none.pt", "--data", prepared, "--output", tmp_path / "run")
    assert bad_resume.exit_code == 2 and "no such checkpoint" in bad_resume.stderr


def test_cmfr_train_resume_continues_at_the_step_after_the_checkpoint(all_stages: Path, prepared: Path, run_cmfr,
                                                                    tmp_path: Path):
    result = run_cmfr("train", "--resume", all_stages / "intra" / CHECKPOINT_NAME, "--stage", "intra", "--steps", "8",
                      "--data", prepared, "--output", tmp_path, "--workers", "0", "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    assert [row["step"] for row in read_log(tmp_path / "intra" / "train.csv")] == [7, 8]
    assert load_checkpoint(tmp_path / "intra" / CHECKPOINT_NAME).step == 8


def test_a_run_started_from_weights_trains_in_torchs_default_layout(monkeypatch, prepared: Path, tmp_path: Path):
    """Coding loads weights channels-last; training must not: with channels-last weights a training
    step (batch 4, 192x192) corrupted the heap inside torch 2.13's CPU kernels."""
    from cmfr_codec.weights import find_weights, load_model

    coding = load_model(find_weights("cmfr-s")).codec
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in coding.parameters() if p.dim() == 4)
    trained = []
    monkeypatch.setattr(trainer, "train_stage", lambda codec, *arguments: trained.append(codec))
    run_stages([load_stage("intra")], RunSettings(data=prepared, output=tmp_path), init=find_weights("cmfr-s").intra)
    four_dimensional = [p for p in trained[0].parameters() if p.dim() == 4 and p.shape[-1] > 1]
    assert four_dimensional and all(p.is_contiguous() for p in four_dimensional)


NO_PYAV = """
import importlib.abc, sys
class NoPyAV(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("av", "pytorch_msssim", "bjontegaard"):
            raise ImportError(f"{name} is not installed here")
sys.meta_path.insert(0, NoPyAV())
from cmfr_codec.cli.main import main
main(sys.argv[1:])
"""


def test_cmfr_train_runs_where_pyav_is_missing(prepared: Path, tmp_path: Path):
    """The lent GPU machine has OpenCV but no PyAV (nor pytorch-msssim, bjontegaard): training must not need them."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", NO_PYAV, "train", "--stage", "intra", "--steps", "1",
                           "--data", str(prepared), "--output", str(tmp_path / "run"), *TINY_RUN],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "intra" / "tiny.intra.cmfrw").exists()


def test_the_quality_steps_learn_at_their_own_scale_of_the_learning_rate(prepared: Path, tmp_path: Path):
    # Adam's first step moves every parameter by about its learning rate, so the quality steps of the
    # scaled run move ten times as far while every other parameter moves exactly as in the plain run.
    torch.manual_seed(3)
    start = trainer.new_codec("tiny").state_dict()
    moved = {}
    for scale in (1.0, 10.0):
        settings = RunSettings(data=prepared, output=tmp_path / str(scale), seed=3, workers=0, report=lambda message: None)
        run_stages(_stage("intra", 1, quality_learning_rate_scale=scale), settings, "tiny")
        trained = load_checkpoint(tmp_path / str(scale) / "intra" / CHECKPOINT_NAME).model
        moved[scale] = {key: (trained[key] - start[key]).abs() for key in start if key.startswith("intra.")}
    quality = [key for key in moved[1.0] if key.endswith("log_steps")]
    assert quality and all(moved[1.0][key].any() for key in quality)
    for key in quality:
        assert torch.allclose(moved[10.0][key], 10 * moved[1.0][key], rtol=1e-3)
    others = [key for key in moved[1.0] if key not in quality and moved[1.0][key].any()]
    assert others and all(torch.equal(moved[10.0][key], moved[1.0][key]) for key in others)


def test_a_stage_refuses_a_quality_learning_rate_scale_that_is_not_positive():
    from cmfr_codec.errors import InputError

    with pytest.raises(InputError, match="quality_learning_rate_scale must be positive"):
        with_overrides(load_stage("cascade"), quality_learning_rate_scale=0.0)


def test_the_objective_weighs_the_distortion_by_the_lambda_of_the_stages_spread(prepared: Path):
    from cmfr_codec.training.losses import lambda_for

    torch.manual_seed(5)
    codec = trainer.new_codec("tiny")
    frames = torch.rand(1, 1, 6, 32, 32)
    for quality in (0, 63):
        for spread in (1.0, 2.0):
            objective = trainer.StageObjective(codec, with_overrides(load_stage("intra"), lambda_spread=spread))
            terms = objective(frames, torch.tensor([quality]), quantization="ste")
            expected = lambda_for(quality, spread) * terms["mse"] + terms["bpp"]
            assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert lambda_for(0, 2.0) < lambda_for(0, 1.0) < lambda_for(63, 1.0) < lambda_for(63, 2.0)


def test_distillation_teaches_the_motion_coder_to_carry_the_teachers_flow_not_only_the_estimator():
    # The estimator alone learning the flow is not enough: the motion coder must carry it to the
    # decoder, or the warping loss never sees it (the shipped weights' decoded flow stayed flat).
    # So while distilling, the coder codes the teacher's flow, and both flows are fitted to it.
    from cmfr_codec.models.dpb import DecodedPictureBuffer
    from cmfr_codec.training.losses import yuv_mse

    torch.manual_seed(6)
    codec = trainer.new_codec("tiny")
    objective = trainer.StageObjective(codec, load_stage("motion"))
    frames, targets = torch.rand(1, 2, 6, 64, 64), 40 + torch.rand(1, 1, 2, 64, 64)  # far from the own zero flow
    plain = objective(frames, torch.tensor([10]), quantization="ste", flow_targets=targets, distill_weight=0.0)
    distilled = objective(frames, torch.tensor([10]), quantization="ste", flow_targets=targets, distill_weight=1.0)
    with torch.no_grad():
        reference = codec.intra(frames[:, 0], torch.tensor([10]), "ste").x_hat
        forced = codec.inter(frames[:, 1], DecodedPictureBuffer(frame=reference), torch.tensor([10]), "ste",
                             flow=targets[:, 0])
        own = codec.inter(frames[:, 1], DecodedPictureBuffer(frame=reference), torch.tensor([10]), "ste")

    def motion_bpp(output) -> float:
        return sum(-values.log2().sum().item() for name, values in output.likelihoods.items()
                   if name.startswith("motion_")) / (4 * 64 * 64)

    assert distilled["mse"].item() == pytest.approx(yuv_mse(forced.warped, frames[:, 1]).item(), rel=1e-4)
    assert distilled["bpp"].item() == pytest.approx(motion_bpp(forced), rel=1e-4)
    assert distilled["bpp"].item() != pytest.approx(motion_bpp(own), rel=1e-2)
    term = distilled["loss"] - plain["loss"]
    assert term.item() == pytest.approx(distilled[DISTILL_COLUMN].item(), rel=1e-5)
    term.backward()
    for part in (codec.inter.motion_decoder, codec.inter.motion_encoder, codec.inter.flow_estimator):
        assert any(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in part.parameters())


def test_fresh_motion_renews_the_motion_parts_with_the_preset_s_estimator_and_keeps_every_other_weight():
    torch.manual_seed(7)
    older = dataclasses.replace(preset("tiny"), inter=dataclasses.replace(preset("tiny").inter, flow_cost_radius=0))
    trained = trainer.new_codec(older)
    before = {name: value.clone() for name, value in trained.state_dict().items()}
    renewed_codec = trainer.fresh_motion(trained, seed=3)
    assert renewed_codec.config == preset("tiny"), "the estimator gets the preset's cost volume"
    torch.manual_seed(3)
    fresh = trainer.new_codec("tiny").state_dict()
    renewed = kept = 0
    for name, value in renewed_codec.state_dict().items():
        part = name.split(".")[1] if name.startswith("inter.") else None
        if part in trainer.MOTION_PARTS:
            assert torch.equal(value, fresh[name]), name
            renewed += name not in before or not torch.equal(value, before[name])
        else:
            assert torch.equal(value, before[name]), name
            kept += 1
    assert renewed > 0 and kept > 0


def test_cmfr_train_refuses_fresh_motion_without_init_weights(run_cmfr, prepared: Path, tmp_path: Path):
    refused = run_cmfr("train", "--stage", "motion", "--fresh-motion", "--data", prepared, "--output", tmp_path / "r",
                       *TINY_RUN)
    assert refused.exit_code != 0 and "--fresh-motion" in refused.stderr and "--init" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_cmfr_train_keeps_the_lambda_spread_in_its_checkpoints_and_refuses_one_that_is_not_positive(
        prepared: Path, run_cmfr, tmp_path: Path):
    from cmfr_codec.errors import InputError

    result = run_cmfr("train", "--stage", "intra", "--steps", "1", "--data", prepared, "--output", tmp_path,
                      "--lambda-spread", "1.8", *TINY_RUN)
    assert result.exit_code == 0, result.stderr
    assert load_checkpoint(tmp_path / "intra" / CHECKPOINT_NAME).stage.lambda_spread == 1.8
    refused = run_cmfr("train", "--stage", "intra", "--steps", "1", "--data", prepared, "--output", tmp_path / "no",
                       "--lambda-spread", "0", *TINY_RUN)
    assert refused.exit_code != 0 and "--lambda-spread" in refused.stderr
    with pytest.raises(InputError, match="lambda_spread must be positive"):
        with_overrides(load_stage("cascade"), lambda_spread=-1.0)


def test_an_ablation_variant_trains_with_its_methods_off_from_another_models_intra_codec(all_stages: Path,
                                                                                      prepared: Path, run_cmfr,
                                                                                      tmp_path: Path):
    from cmfr_codec.weights import find_weights, load_model

    source = all_stages / "cascade" / "tiny.intra.cmfrw"
    result = run_cmfr("train", "--stage", "inter", "--steps", "2", "--validate-every", "2", "--data", prepared,
                      "--output", tmp_path, "--without", "feature_residual,sff,motion_refiner", "--intra-from", source,
                      *TINY_RUN)
    assert result.exit_code == 0, result.stderr
    variant = load_model(find_weights(str(tmp_path / "inter" / "tiny-baseline.intra.cmfrw")), for_coding=False).codec
    assert not (variant.config.inter.feature_residual or variant.config.inter.sff or variant.config.inter.motion_refiner)
    shared = load_model(find_weights(str(source)), for_coding=False).codec
    shared_intra = shared.intra.state_dict()
    assert all(torch.equal(value, shared_intra[name]) for name, value in variant.intra.state_dict().items())
    assert not any("mask_network" in name or "motion_refiner" in name for name in variant.inter.state_dict())
    mixed = run_cmfr("train", "--stage", "inter", "--init", source, "--without", "sff", "--data", prepared,
                     "--output", tmp_path / "x", *TINY_RUN)
    assert mixed.exit_code == 2 and "do not go with --init or --resume" in mixed.stderr
    unknown = run_cmfr("train", "--stage", "inter", "--without", "masks", "--data", prepared,
                       "--output", tmp_path / "x", *TINY_RUN)
    assert unknown.exit_code == 1 and "no CMFR method named 'masks'" in unknown.stderr


def test_cmfr_train_rate_factor_multiplies_the_stage_rate_weight_and_is_refused_on_resume(prepared: Path, run_cmfr,
                                                                                          tmp_path: Path):
    from cmfr_codec.errors import InputError

    result = run_cmfr("train", "--stage", "intra", "--steps", "1", "--data", prepared, "--output", tmp_path,
                      "--rate-factor", "2.5", *TINY_RUN)
    assert result.exit_code == 0, result.stderr
    checkpoint = tmp_path / "intra" / CHECKPOINT_NAME
    assert load_checkpoint(checkpoint).stage.rate_weight == 2.5 * load_stage("intra").rate_weight
    refused = run_cmfr("train", "--resume", checkpoint, "--rate-factor", "2", *TINY_RUN)
    assert refused.exit_code != 0 and "--rate-factor" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    with pytest.raises(InputError, match="rate_weight must be 0 or more"):
        with_overrides(load_stage("cascade"), rate_weight=-1.0)


def refit_densities(weights: Path, prepared: Path, run_cmfr, output: Path) -> Path:
    """A short ``cmfr train --stage densities`` from ``weights`` into ``output``; -> the refitted weights."""
    refit = run_cmfr("train", "--stage", "densities", "--init", weights, "--steps", "20", "--learning-rate", "3e-2",
                     "--data", prepared, "--output", output, "--batch", "2", "--crop", "64", "--frames", "3",
                     "--workers", "0", "--validation-clips", "1", "--device", "cpu")
    assert refit.exit_code == 0, refit.stderr
    return output / "densities" / "tiny.intra.cmfrw"


def encode_with_both(run_cmfr, folder: Path, before: Path, after: Path, *options: str) -> None:
    """The example clip coded by the weights ``before`` and ``after`` into ``folder``/{before,after}.{bin,y4m};
    the same pictures from both, and fewer bytes from ``after``."""
    clip = Path(__file__).resolve().parents[1] / "examples" / "city_416x240_25fps.mkv"
    for name, weights in (("before", before), ("after", after)):
        coded = run_cmfr("encode", clip, folder / f"{name}.bin", "--model", weights, *options,
                         "--recon", folder / f"{name}.y4m")
        assert coded.exit_code == 0, coded.stderr
    assert (folder / "after.y4m").read_bytes() == (folder / "before.y4m").read_bytes()
    assert (folder / "after.bin").stat().st_size < (folder / "before.bin").stat().st_size


def test_the_densities_stage_lowers_the_coded_size_and_leaves_every_decoded_picture_as_it_was(
        all_stages: Path, prepared: Path, run_cmfr, tmp_path: Path):
    trained = all_stages / "cascade" / "tiny.intra.cmfrw"
    refitted = refit_densities(trained, prepared, run_cmfr, tmp_path / "run")
    from cmfr_codec.weights import find_weights, load_model

    before, after = (load_model(find_weights(str(weights)), for_coding=False).codec.state_dict()
                     for weights in (trained, refitted))
    densities = {f"{name}.{key}" for name, module in trainer.new_codec("tiny").named_modules()
                 if isinstance(module, FactorizedLatentCodec) for key in module.state_dict()}
    scale_maps = {key for key in before if key.endswith(".index_map")}
    assert {key for key in before if not torch.equal(before[key], after[key])} <= densities | scale_maps
    assert any(not torch.equal(before[key], after[key]) for key in densities)
    encode_with_both(run_cmfr, tmp_path, trained, refitted, "--frames", "4", "--quality", "30")


def test_the_densities_stage_gives_a_one_band_model_its_density_bands(all_stages: Path, prepared: Path, run_cmfr,
                                                                      tmp_path: Path):
    from cmfr_codec.weights import find_weights, load_model, save_weights

    trained = load_model(find_weights(str(all_stages / "cascade" / "tiny.intra.cmfrw")), for_coding=False).codec
    one_band = trainer.with_density_bands(trained, 1)
    assert one_band.config.intra.density_bands == one_band.config.inter.density_bands == 1
    one_band.update_tables()
    (tmp_path / "old").mkdir()
    old = save_weights(one_band, tmp_path / "old" / "tiny")
    refitted = refit_densities(old.intra, prepared, run_cmfr, tmp_path / "run")
    banded = load_model(find_weights(str(refitted)), for_coding=False).codec
    assert banded.config.intra.density_bands == banded.config.inter.density_bands == load_stage("densities").density_bands
    assert banded.intra.z_codec.cdf_tables.shape[0] == 8 * banded.config.intra.hyper_channels
    encode_with_both(run_cmfr, tmp_path, old.intra, refitted, "--frames", "3", "--quality", "5")
    for name, weights in (("before", old.intra), ("after", refitted)):
        decoded = run_cmfr("decode", tmp_path / f"{name}.bin", tmp_path / f"{name}.yuv", "--model", weights)
        assert decoded.exit_code == 0, decoded.stderr


def test_density_bands_belong_to_densities_stages():
    with pytest.raises(InputError, match="density_bands applies to densities stages only"):
        with_overrides(load_stage("cascade"), density_bands=8)
    with pytest.raises(InputError, match="density_bands must be 0..64"):
        with_overrides(load_stage("densities"), density_bands=65)


def test_the_quality_hierarchy_codes_each_snippet_frame_at_its_encoder_quality_and_lambda(monkeypatch):
    from cmfr_codec.training.losses import lambda_for

    torch.manual_seed(7)
    codec = trainer.new_codec("tiny")
    stage = with_overrides(load_stage("cascade"), frames=6, crop=64, hierarchy_period=4, hierarchy_boost=24)
    objective = trainer.StageObjective(codec, stage)
    seen: list[list[int]] = []  # the quality indices each frame is coded at, per sample
    intra, inter = codec.intra.forward, codec.inter.forward

    def intra_forward(x, quality_index, *rest, **options):
        seen.append(quality_index.tolist())
        return intra(x, quality_index, *rest, **options)

    def inter_forward(x, dpb, quality_index, *rest, **options):
        seen.append(quality_index.tolist())
        return inter(x, dpb, quality_index, *rest, **options)

    monkeypatch.setattr(codec.intra, "forward", intra_forward)
    monkeypatch.setattr(codec.inter, "forward", inter_forward)
    mse: list[torch.Tensor] = []  # each per-sample MSE the objective computes
    per_sample_mse = trainer._per_sample_mse

    def recorded_mse(x_hat, x):
        mse.append(per_sample_mse(x_hat, x))
        return mse[-1]

    monkeypatch.setattr(trainer, "_per_sample_mse", recorded_mse)
    terms = objective(torch.rand(2, 6, 6, 32, 32), torch.tensor([10, 50]), quantization="ste")
    # frame 0 (the I-frame) and frame 4 are the anchors: 24 above, never above 63, as cmfr encode codes them
    assert seen == [[34, 63], [10, 50], [10, 50], [10, 50], [34, 63], [10, 50]]
    # each P-frame's distortion weighed by its own quality's lambda (the objective takes each frame's MSE twice:
    # once for the loss, once for the log)
    weighed = sum(torch.tensor([lambda_for(q) for q in frame]) @ error
                  for frame, error in zip(seen[1:], mse[::2], strict=True))
    bits = terms["loss"] - weighed / (5 * 2)
    assert bits.item() == pytest.approx(terms["bpp"].item(), rel=1e-4)
    flat = trainer.StageObjective(codec, with_overrides(stage, hierarchy_period=1))
    assert flat.frame_quality(torch.tensor([10, 50]), 4).tolist() == [10, 50]


def test_the_quality_hierarchy_is_a_stage_setting_cmfr_train_overrides_for_stages_with_p_frames(
        prepared: Path, run_cmfr, tmp_path: Path):
    result = run_cmfr("train", "--stage", "inter", "--steps", "1", "--data", prepared, "--output", tmp_path,
                      "--hierarchy-period", "2", "--hierarchy-boost", "12", *TINY_RUN)
    assert result.exit_code == 0, result.stderr
    stage = load_checkpoint(tmp_path / "inter" / CHECKPOINT_NAME).stage
    assert (stage.hierarchy_period, stage.hierarchy_boost) == (2, 12)
    assert stage.hierarchy().frame_quality(60, 2) == 63
    for option, value in (("--hierarchy-period", "0"), ("--hierarchy-boost", "64")):
        refused = run_cmfr("train", "--stage", "inter", "--data", prepared, "--output", tmp_path / "no", option, value,
                           *TINY_RUN)
        assert refused.exit_code == 2 and option in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "no").exists()
    with pytest.raises(InputError, match="applies to stages with P-frames"):
        with_overrides(load_stage("intra"), hierarchy_period=4, hierarchy_boost=24)
    assert load_stage("intra").hierarchy_period == 1  # --stage all leaves the intra stage flat


def test_precision_auto_is_bf16_on_cuda_and_fp32_on_the_cpu_and_bf16_needs_a_cpu_that_has_it(monkeypatch):
    assert trainer.trains_in_bf16("cuda:0", "auto") and trainer.trains_in_bf16("cuda", "bf16")
    assert not trainer.trains_in_bf16("cuda", "fp32")
    assert not trainer.trains_in_bf16("cpu", "auto") and not trainer.trains_in_bf16("cpu", "fp32")
    monkeypatch.setattr(trainer, "native_bfloat16", lambda device: True)
    assert trainer.trains_in_bf16("cpu", "bf16")
    monkeypatch.setattr(trainer, "native_bfloat16", lambda device: False)
    with pytest.raises(InputError, match="no native bfloat16"):
        trainer.trains_in_bf16("cpu", "bf16")


@pytest.mark.skipif(not trainer.native_bfloat16("cpu"), reason="this CPU has no native bfloat16")
def test_cpu_bf16_training_is_autocast_reproducible_and_not_the_fp32_run(prepared: Path, tmp_path: Path):
    def run(precision: str, output: Path) -> dict:
        stage = with_overrides(load_stage("inter-rate"), steps=2, batch=2, crop=64, validate_every=2, log_every=1,
                               validation_clips=1, learning_rate=1e-3)
        settings = RunSettings(data=prepared, output=output, workers=0, precision=precision, report=lambda line: None)
        run_stages([stage], settings, "tiny")
        return load_checkpoint(output / "inter-rate" / CHECKPOINT_NAME).model

    bf16, again, fp32 = run("bf16", tmp_path / "a"), run("bf16", tmp_path / "b"), run("fp32", tmp_path / "c")
    assert all(torch.equal(value, again[name]) for name, value in bf16.items())
    assert not all(torch.equal(value, fp32[name]) for name, value in bf16.items())
    assert all(torch.isfinite(value).all() for value in bf16.values() if value.is_floating_point())
