"""``cmfr train``: run the training stages on a prepared set (docs/training.md)."""

from __future__ import annotations

from pathlib import Path

import click

from cmfr_codec.device import DEVICE_CHOICES

from .data import DEFAULT_PREPARED


@click.command()
@click.option("--stage", default="all", show_default=True, metavar="NAME|FILE.toml",
              help="Stage to run: all (intra, motion, inter, inter-rate, cascade, densities in order), one of "
                   "intra, motion, inter, inter-rate, cascade, densities, msssim, or a stage config file.")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_PREPARED,
              show_default=True, help="Prepared training set written by 'cmfr data prepare'.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/cmfr"),
              show_default=True, help="Run folder: one sub-folder per stage with checkpoint.pt, train.csv, "
                                      "validation.csv and the weights pair NAME.intra/inter.cmfrw.")
@click.option("--model-config", default="cmfr-s", show_default=True, metavar="PRESET",
              help="Model preset to train from scratch: cmfr-s, cmfr-base or tiny (ignored with --init or --resume).")
@click.option("--init", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Start from these weights (either .cmfrw file of a pair) instead of a random model (default: none).")
@click.option("--fresh-motion", is_flag=True, default=False,
              help="With --init: start the motion parts (flow estimator, motion coder, motion decoder, refiner) "
                   "anew, seeded by --seed, and keep the rest of the weights; the new estimator is the "
                   "current preset's (with its cost volume); for weights whose motion coder carries no "
                   "flow (see benchmarks/motion_check.py) (default: off).")
@click.option("--without", "without", default="", metavar="LIST",
              help="CMFR methods to switch off in a new model, comma-separated, from feature_residual, sff, "
                   "motion_refiner (all three: the paper's baseline, named NAME-baseline) (default: none).")
@click.option("--intra-from", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Give a new model the intra codec of these weights (either .cmfrw file of a pair), so that "
                   "ablation variants share one trained intra codec (default: none).")
@click.option("--resume", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Continue from this checkpoint.pt: its model, optimiser, step, seed and stage "
                   "(then the stages after it with --stage all) (default: none).")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Steps of each stage run (default: the stage config's).")
@click.option("--batch", type=click.IntRange(min=1), default=None,
              help="Snippets per step and process (default: the stage config's).")
@click.option("--crop", type=click.IntRange(min=64), default=None,
              help="Luma crop side, a multiple of 64 (default: the stage config's).")
@click.option("--frames", type=click.IntRange(3, 7), default=None,
              help="Frames per snippet of the cascade stages, at most the prepared clip length (default: the stage config's).")
@click.option("--distill-steps", type=click.IntRange(min=0), default=None,
              help="First steps of the motion stage that also fit the flow estimator to OpenCV's DIS flow "
                   "(needs opencv-python-headless; 0: no distillation) (default: the stage config's).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=None,
              help="Steps between checkpoints (default: the stage config's; also at the end of a stage).")
@click.option("--validate-every", type=click.IntRange(min=1), default=None,
              help="Steps between validations on the held-out split (default: the stage config's).")
@click.option("--validation-clips", type=click.IntRange(min=1), default=None,
              help="Held-out clips each validation codes at the four anchor qualities (default: the stage config's).")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Learning rate at step 1; the decay to the end keeps the stage config's ratio (default: the stage config's).")
@click.option("--quality-lr-scale", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Factor on the learning rate of the quality steps, so that the 64 qualities spread over the "
                   "lambda range in fewer steps (default: the stage config's).")
@click.option("--lambda-spread", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Exponent on the lambda range about its centre 267: 1 trains DCVC-DC's 85..840 from quality 0 "
                   "to 63, 2 trains 27..2641, a wider quality span (default: the stage config's, 1).")
@click.option("--hierarchy-period", type=click.IntRange(min=1), default=None, metavar="N",
              help="Stages with P-frames: code frame 0 (the I-frame) and every Nth P-frame of each snippet "
                   "--hierarchy-boost quality indices above the sample's, at their lambda, as 'cmfr encode' "
                   "codes them; 1 trains every frame at the sample's quality (default: the stage config's, 1).")
@click.option("--hierarchy-boost", type=click.IntRange(0, 63), default=None, metavar="B",
              help="Quality indices those frames are raised by, never above 63 (default: the stage config's, 0).")
@click.option("--rate-factor", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Multiplies the stage config's rate weight (loss lambda * D + weight * R): above 1 trains a "
                   "cheaper coder, e.g. a motion coder that spends fewer bits on the flow; the inter stage's "
                   "weight 0 (reconstruction only) stays 0; a resumed stage keeps its checkpoint's weight.")
@click.option("--log-every", type=click.IntRange(min=1), default=None,
              help="Steps between rows of train.csv (default: the stage config's).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of every random choice (a resumed run keeps its checkpoint's seed).")
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True,
              help="DataLoader worker processes per training process (0: load in the training process).")
@click.option("--precision", type=click.Choice(("auto", "bf16", "fp32")), default="auto", show_default=True,
              help="auto: bf16 autocast on CUDA, fp32 on the CPU; bf16: bf16 autocast on CUDA and on CPUs that "
                   "compute bfloat16 natively (AVX512-BF16, AMX: a third to a half more inter-stage steps a second "
                   "there, but a CPU fine-tune learned less in it; refused on other CPUs); fp32: no autocast.")
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True,
              help="auto picks CUDA when a GPU is usable; under torchrun each process takes GPU LOCAL_RANK.")
def train(stage: str, data: Path, output: Path, model_config: str, init: Path | None, fresh_motion: bool, without: str,
          intra_from: Path | None, resume: Path | None,
          steps: int | None, batch: int | None, crop: int | None, frames: int | None, distill_steps: int | None,
          checkpoint_every: int | None, validate_every: int | None, validation_clips: int | None,
          learning_rate: float | None, quality_lr_scale: float | None, lambda_spread: float | None,
          hierarchy_period: int | None, hierarchy_boost: int | None, rate_factor: float,
          log_every: int | None, seed: int,
          workers: int, precision: str, device: str) -> None:
    """Train the CMFR model on a prepared set, stage by stage, resumable.

    \b
      cmfr train --data data/prepared --output runs/s              all stages, cmfr-s
      cmfr train --stage cascade --init runs/s/inter-rate/cmfr-s.intra.cmfrw --frames 7
      cmfr train --resume runs/s/motion/checkpoint.pt              after a kill
      torchrun --nproc-per-node 8 -m cmfr_codec train ...          DDP on 8 GPUs (NCCL)
    """
    from cmfr_codec.device import resolve_device
    from cmfr_codec.errors import InputError
    from cmfr_codec.models.config import preset, without_methods
    from cmfr_codec.training.distributed import join_process_group, leave_process_group
    from cmfr_codec.training.stages import STAGE_ORDER, load_stage, with_overrides
    from cmfr_codec.training.trainer import RunSettings, run_stages

    if init is not None and resume is not None:
        raise InputError("give --init or --resume, not both")
    if fresh_motion and init is None:
        raise InputError("--fresh-motion renews the motion parts of the --init weights; give --init")
    if rate_factor != 1 and resume is not None:
        raise InputError("--rate-factor applies to new stages; a resumed stage keeps its checkpoint's rate weight")
    if crop is not None and crop % 64:
        raise InputError(f"--crop must be a multiple of 64, got {crop}")
    methods = [method.strip() for method in without.split(",") if method.strip()]
    if (methods or intra_from is not None) and (init is not None or resume is not None):
        raise InputError("--without and --intra-from build a new model; they do not go with --init or --resume")
    config = without_methods(preset(model_config), methods)

    def overrides(config):
        rates = {}
        if learning_rate is not None:
            decay = config.final_learning_rate / config.learning_rate
            rates = {"learning_rate": learning_rate, "final_learning_rate": learning_rate * decay}
        return with_overrides(config, steps=steps, batch=batch, crop=crop,
                              frames=frames if config.frames > 2 else None,
                              distill_steps=distill_steps if config.trains == "motion" else None,
                              checkpoint_every=checkpoint_every, validate_every=validate_every,
                              validation_clips=validation_clips, log_every=log_every,
                              quality_learning_rate_scale=quality_lr_scale,
                              lambda_spread=lambda_spread, rate_weight=config.rate_weight * rate_factor,
                              hierarchy_period=hierarchy_period if config.trains != "intra" else None,
                              hierarchy_boost=hierarchy_boost if config.trains != "intra" else None, **rates)

    stages = [overrides(load_stage(name)) for name in (STAGE_ORDER if stage == "all" else (stage,))]
    place = join_process_group(resolve_device(device))
    try:
        report = click.echo if place.is_main else (lambda message: None)
        settings = RunSettings(data=data, output=output, seed=seed, workers=workers, precision=precision,
                               place=place, report=lambda message: report(message, err=True))
        run_stages(stages, settings, config, init, resume, overrides, intra_from=intra_from,
                   reset_motion=fresh_motion)
    finally:
        leave_process_group()
