"""The CMFR ablation: the paper's methods against its baseline, trained with equal budgets, BD-rates.

    OMP_NUM_THREADS=2 python benchmarks/ablation.py train --variant cmfr     --intra WEIGHTS [--scale F]
    OMP_NUM_THREADS=2 python benchmarks/ablation.py train --variant baseline --intra WEIGHTS [--scale F]
    python benchmarks/ablation.py evaluate [--variants cmfr,baseline] [--frames 32] [INPUT ...]

Variants differ only in the CMFR methods their inter codec has (``cmfr train --without``,
docs/models.md "What each flag turns off"): ``cmfr`` has all three, ``baseline`` none (the
DCVC-DC-like model the paper ablates against), and ``feature_residual``, ``sff`` and
``motion_refiner`` the baseline plus that one method.  Each variant is a new model whose intra
codec is copied from ``--intra`` (trained, and frozen by the inter stages, so every variant codes the
same I-frames) and whose inter codec starts from the same seed; it then trains the same stages with
the same steps, batches, crops, learning rates, seed and data (:data:`SCHEDULE`, steps times
``--scale``), each stage what ``cmfr train --stage STAGE ... --init PREVIOUS`` runs (the first
``--without ... --intra-from WEIGHTS``), called in process.  ``train`` skips finished stages and
resumes an interrupted one from its checkpoint, so it can be killed and re-run.

``evaluate`` codes the held-out clips with ``cmfr eval --codecs cmfr --model`` for each variant's
final weights (intra period 32; ``--resume``: points already in RUN/eval-VARIANT.json are kept),
prints each variant's RD points and BD-rate (PSNR-YUV) against the baseline, per clip and on the
mean curve, and the training table.  The inputs default to ``data/sources/bikes.mp4``, the clip
the prepared set ``data/prepared-city`` holds out (docs/data.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from cmfr_codec.evaluation.model_comparison import compare, rd_points, table
from cmfr_codec.models.config import CMFR_METHODS, preset, without_methods
from cmfr_codec.training.stages import StageConfig, load_stage, with_overrides
from cmfr_codec.training.trainer import RunSettings, run_stages

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_weights import evaluate as evaluate_weights  # noqa: E402
from staged_runs import stage_weights, train_in_order, training_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "runs" / "ablation"
DATA = ROOT / "data" / "prepared-city"
HELD_OUT = ROOT / "data" / "sources" / "bikes.mp4"
VARIANTS = {"cmfr": (), "baseline": CMFR_METHODS,
            **{method: tuple(other for other in CMFR_METHODS if other != method) for method in CMFR_METHODS}}
"""Variant name -> the methods its model is built without."""


@dataclass(frozen=True)
class StagePlan:
    """One stage of the schedule: ``cmfr train --stage name --steps steps --batch ... --learning-rate ...``."""

    name: str
    steps: int
    batch: int
    crop: int
    learning_rate: float
    frames: int | None = None
    distill_steps: int | None = None


SCHEDULE = (
    StagePlan("motion", 1200, 4, 256, 3e-4, distill_steps=400),
    StagePlan("inter", 600, 4, 256, 3e-4),
    StagePlan("inter-rate", 1800, 4, 256, 1e-4),
    StagePlan("cascade", 300, 2, 256, 5e-5, frames=5),
)
"""A fresh inter codec's stages at this project's CPU budget (about two hours per variant on the
2-core development machine); the intra codec is never trained here."""


def stage_configs(scale: float, checkpoint_every: int, validation_clips: int, crop: int | None = None,
                  frames: int | None = None) -> list[StageConfig]:
    """The schedule's stages as ``cmfr train`` builds them from the shipped configs and its options
    (``crop`` and ``frames``, when given, replace the schedule's: for small test sets)."""
    configs = []
    for plan in SCHEDULE:
        config = load_stage(plan.name)
        decay = config.final_learning_rate / config.learning_rate
        steps = max(1, round(plan.steps * scale))
        configs.append(with_overrides(config, steps=steps, batch=plan.batch, crop=crop or plan.crop,
                                      frames=plan.frames and (frames or plan.frames),
                                      distill_steps=None if plan.distill_steps is None
                                      else max(1, round(plan.distill_steps * scale)),
                                      learning_rate=plan.learning_rate, final_learning_rate=plan.learning_rate * decay,
                                      checkpoint_every=checkpoint_every, validate_every=steps,
                                      validation_clips=validation_clips))
    return configs


def train(variant: str, intra: Path, run: Path, data: Path, scale: float, model: str = "cmfr-s", seed: int = 0,
          workers: int = 1, checkpoint_every: int = 50, validation_clips: int = 8, crop: int | None = None,
          frames: int | None = None) -> Path:
    """Train ``variant`` into ``run/variant``; -> its final weights."""
    output = run / variant
    config = without_methods(preset(model), VARIANTS[variant])
    settings = RunSettings(data=data, output=output, seed=seed, workers=workers,
                           report=lambda message: print(message, flush=True))
    return train_in_order(output, stage_configs(scale, checkpoint_every, validation_clips, crop, frames), settings,
                          lambda stage: run_stages([stage], settings, config, intra_from=intra), variant)


def evaluate(run: Path, variants: list[str], inputs: list[Path], frames: int, qualities: str) -> dict:
    """Code ``inputs`` with every variant's final weights; print each against the baseline."""
    points = {}
    for variant in ["baseline", *(name for name in variants if name != "baseline")]:
        weights = stage_weights(run / variant / SCHEDULE[-1].name)
        if weights is None:
            raise SystemExit(f"no weights in {run / variant / SCHEDULE[-1].name}: train {variant} first")
        points[variant] = rd_points(evaluate_weights(str(weights), inputs, run / f"eval-{variant}.json", frames,
                                                     qualities))
    comparisons = {}
    for variant in points:
        if variant == "baseline":
            continue
        comparisons[variant] = compare(points["baseline"], points[variant])
        print(f"\n{variant} against the baseline:\n")
        print(table(points["baseline"], points[variant], comparisons[variant], ("baseline", variant)))
    print()
    print(training_table({variant: run / variant for variant in points}, tuple(plan.name for plan in SCHEDULE)))
    return comparisons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=RUN, help=f"run folder (default: {RUN.relative_to(ROOT)})")
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser("train", help="train one variant's inter codec, stage by stage")
    train_parser.add_argument("--variant", choices=tuple(VARIANTS), required=True)
    train_parser.add_argument("--intra", type=Path, required=True, help="weights whose trained intra codec every variant shares")
    train_parser.add_argument("--data", type=Path, default=DATA, help=f"prepared set (default: {DATA.relative_to(ROOT)})")
    train_parser.add_argument("--scale", type=float, default=1.0, help="factor on every stage's steps (default: 1)")
    train_parser.add_argument("--model", default="cmfr-s", help="model preset (default: cmfr-s)")
    train_parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    train_parser.add_argument("--workers", type=int, default=1, help="DataLoader workers (default: 1)")
    train_parser.add_argument("--crop", type=int, default=None, help="luma crop of every stage (default: the schedule's)")
    train_parser.add_argument("--frames", type=int, default=None, help="frames of the cascade stage (default: the schedule's)")
    train_parser.add_argument("--checkpoint-every", type=int, default=50, help="(default: 50)")
    train_parser.add_argument("--validation-clips", type=int, default=8,
                              help="held-out clips validated at the start and end of each stage (default: 8)")
    evaluate_parser = commands.add_parser("evaluate", help="code the held-out clips with each variant, BD-rates")
    evaluate_parser.add_argument("inputs", nargs="*", type=Path, help=f"clips (default: {HELD_OUT.relative_to(ROOT)})")
    evaluate_parser.add_argument("--variants", default="cmfr,baseline",
                                 help=f"comma-separated, from {', '.join(VARIANTS)} (default: cmfr,baseline)")
    evaluate_parser.add_argument("--frames", type=int, default=32, help="(default: 32)")
    evaluate_parser.add_argument("--qualities", default="0,21,42,63", help="(default: 0,21,42,63)")
    arguments = parser.parse_args(argv)
    if arguments.command == "train":
        train(arguments.variant, arguments.intra, arguments.run, arguments.data, arguments.scale, arguments.model,
              arguments.seed, arguments.workers, arguments.checkpoint_every, arguments.validation_clips,
              arguments.crop, arguments.frames)
        return 0
    variants = [name.strip() for name in arguments.variants.split(",") if name.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"no variant named {unknown[0]!r}; the variants are {', '.join(VARIANTS)}")
    inputs = arguments.inputs or [HELD_OUT]
    missing = [path for path in inputs if not path.is_file()]
    if missing:
        parser.error(f"no such clip: {missing[0]} (bikes.mp4 comes with 'cmfr data fetch')")
    evaluate(arguments.run, variants, inputs, arguments.frames, arguments.qualities)
    return 0


if __name__ == "__main__":
    sys.exit(main())
