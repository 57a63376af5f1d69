"""Rate cost of the exact integer entropy path: two models trained with equal budgets, one BD-rate.

    python benchmarks/integer_cost.py prepare                       # runs/integer-cost/init-{integer,float}
    OMP_NUM_THREADS=1 python benchmarks/integer_cost.py train --variant integer --intra-steps N1 --inter-steps N2
    OMP_NUM_THREADS=1 python benchmarks/integer_cost.py train --variant float   --intra-steps N1 --inter-steps N2
    python benchmarks/integer_cost.py evaluate                      # cmfr eval of both, table and BD-rate

Every step is re-runnable: ``prepare`` rewrites the two starting points, ``train`` skips finished
stages and resumes an interrupted one from its ``checkpoint.pt``, ``evaluate`` keeps the RD points
its reports already hold (``cmfr eval --resume``).  docs/determinism.md ("Rate cost of the integer
path") records a run.

The two starting points differ only in ``integer_entropy``::

    source weights (shipped cmfr-s) --every tensor except the entropy-parameter networks--+
    fresh model, torch.manual_seed(seed) --the entropy-parameter networks-----------------+--> init-integer
                                                                                          +--> init-float

The entropy-parameter networks are the modules the flag changes: every
:class:`~cmfr_codec.models.integer.IntegerNetwork` (hyper synthesis, temporal priors, prior
fusion, quadtree step networks, of the intra and the inter codec) and the modules only one
variant builds (the float path's C3 context prior).  Both variants take them from the same fresh
integer model; the float path's tensors that have no counterpart of the same shape there (its
C3 context prior, the wider first layer of the frame latent's prior fusion) come from a fresh
float model built after the same seed.  So neither variant inherits trained entropy parameters,
and both start from the same ones wherever the shapes allow.

Each variant then trains with the training pipeline of ``cmfr train`` (its trainer, called in
process: :func:`train`): the ``intra`` stage, then the ``inter-rate`` stage from the intra
stage's weights, with the same steps, batch, crop, learning rate, seed and data.  ``evaluate`` codes the evaluation clips with ``cmfr eval --codecs cmfr --model``
for each variant's final weights and reports the BD-rate (PSNR-YUV) of the integer model
against the float model with :func:`cmfr_codec.evaluation.bdrate.bd_rate`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import torch

from cmfr_codec.evaluation.model_comparison import compare, rd_points, table
from cmfr_codec.models.codec import CmfrCodec
from cmfr_codec.models.config import ModelConfig
from cmfr_codec.models.integer import IntegerNetwork
from cmfr_codec.training.bootstrap import float_entropy
from cmfr_codec.training.stages import StageConfig, load_stage, with_overrides
from cmfr_codec.training.trainer import RunSettings, run_stages
from cmfr_codec.weights import WeightsFiles, find_weights, load_model, save_weights

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_weights import validation_clips  # noqa: E402
from staged_runs import stage_weights, train_in_order, training_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "runs" / "integer-cost"
VARIANTS = ("integer", "float")
STAGES = ("intra", "inter-rate")


# -- prepare ------------------------------------------------------------------------------------

def variant_configs(config: ModelConfig) -> dict[str, ModelConfig]:
    """The integer and the float variant of ``config``: equal but for ``integer_entropy`` (and the name)."""
    integer = dataclasses.replace(config, intra=dataclasses.replace(config.intra, integer_entropy=True),
                                  inter=dataclasses.replace(config.inter, integer_entropy=True))
    return {"integer": integer, "float": float_entropy(integer)}


def _integer_network_tensors(codec: CmfrCodec) -> set[str]:
    names = set()
    for module_name, module in codec.named_modules():
        if isinstance(module, IntegerNetwork):
            names.update(f"{module_name}.{key}" for key in module.state_dict())
    return names


def entropy_parameter_tensors(integer: CmfrCodec, float_: CmfrCodec) -> set[str]:
    """State-dict keys of the modules ``integer_entropy`` changes, in either variant.

    Those of every :class:`IntegerNetwork`, and those that only one variant has (modules built
    for one path only, such as the float path's C3 context prior).
    """
    integer_keys, float_keys = set(integer.state_dict()), set(float_.state_dict())
    return (_integer_network_tensors(integer) | _integer_network_tensors(float_)
            | (integer_keys ^ float_keys))


def fresh_codecs(configs: dict[str, ModelConfig], seed: int) -> dict[str, CmfrCodec]:
    """Each variant's model as initialised after ``torch.manual_seed(seed)``."""
    codecs = {}
    for variant, config in configs.items():
        torch.manual_seed(seed)
        codecs[variant] = CmfrCodec(config)
    return codecs


def starting_points(source: WeightsFiles, seed: int) -> dict[str, CmfrCodec]:
    """The two starting points (see the module docstring), tables updated, ready to save."""
    source_codec = load_model(source).codec
    source_state = source_codec.state_dict()
    configs = variant_configs(source_codec.config)
    fresh = fresh_codecs(configs, seed)
    fresh_states = {variant: codec.state_dict() for variant, codec in fresh.items()}
    entropy = entropy_parameter_tensors(fresh["integer"], fresh["float"])
    points = {}
    for variant, config in configs.items():
        state = {}
        for key, value in fresh_states[variant].items():
            if key in entropy:
                shared = fresh_states["integer"].get(key)
                state[key] = shared if shared is not None and shared.shape == value.shape else value
            else:
                # An entropy table is empty until update_tables(); the source's is the one that fits.
                fits = key in source_state and (source_state[key].shape == value.shape or value.numel() == 0)
                if not fits:
                    raise ValueError(f"{key}: the source weights have no tensor of shape {tuple(value.shape)}")
                state[key] = source_state[key]
        codec = CmfrCodec(config)
        codec.load_state_dict({key: value.clone() for key, value in state.items()})
        codec.eval()
        codec.update_tables()
        points[variant] = codec
    return points


def prepare(source: str, seed: int, run: Path) -> dict[str, WeightsFiles]:
    """Write ``run/init-integer`` and ``run/init-float`` (weights pairs); -> their files."""
    run.mkdir(parents=True, exist_ok=True)
    files = {variant: save_weights(codec, run / f"init-{variant}")
             for variant, codec in starting_points(find_weights(source), seed).items()}
    for variant, pair in files.items():
        print(f"{variant}: {pair.intra} and {pair.inter}")
    return files


# -- train --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Budget:
    """What both variants train with: equal for the comparison to be fair."""

    intra_steps: int
    inter_steps: int
    batch: int
    crop: int
    learning_rate: float | None
    seed: int
    checkpoint_every: int
    validation_clips: int
    workers: int


def _variant_folder(run: Path, variant: str) -> Path:
    return run / f"train-{variant}"


def stage_config(stage: str, steps: int, budget: Budget) -> StageConfig:
    """The shipped stage with the budget's overrides, as ``cmfr train --steps --batch ...`` makes it."""
    config = load_stage(stage)
    rates = {}
    if budget.learning_rate is not None:
        decay = config.final_learning_rate / config.learning_rate
        rates = {"learning_rate": budget.learning_rate, "final_learning_rate": budget.learning_rate * decay}
    return with_overrides(config, steps=steps, batch=budget.batch, crop=budget.crop,
                          checkpoint_every=budget.checkpoint_every, validate_every=steps,
                          validation_clips=budget.validation_clips, **rates)


def train(variant: str, budget: Budget, run: Path) -> Path:
    """Train ``variant``'s stages with the trainer of ``cmfr train``, resuming or skipping what is done.

    -> the final weights.  Each stage is what ``cmfr train --stage STAGE --init WEIGHTS --steps N
    --batch B --crop C --seed S --checkpoint-every K --validate-every N --validation-clips V
    [--learning-rate L]`` runs (``--resume`` after a kill), called in process.
    """
    init = run / f"init-{variant}.intra.cmfrw"
    if not init.is_file():
        raise SystemExit(f"no {init}: run 'prepare' first")
    output = _variant_folder(run, variant)
    settings = RunSettings(data=ROOT / "data" / "prepared", output=output, seed=budget.seed, workers=budget.workers,
                           report=lambda message: print(message, flush=True))
    stages = [stage_config(stage, steps, budget)
              for stage, steps in zip(STAGES, (budget.intra_steps, budget.inter_steps), strict=True)]
    return train_in_order(output, stages, settings, lambda config: run_stages([config], settings, init=init), variant)


# -- evaluate -----------------------------------------------------------------------------------

def final_weights(run: Path, variant: str) -> Path:
    folder = _variant_folder(run, variant) / STAGES[-1]
    weights = stage_weights(folder)
    if weights is None:
        raise SystemExit(f"no weights in {folder}: train {variant} first")
    return weights


def eval_command(inputs: list[Path], weights: Path, report: Path, frames: int, qualities: str,
                 intra_period: int) -> list[str]:
    """The ``cmfr eval`` command that codes ``inputs`` with the model ``weights`` into ``report``."""
    return ["cmfr", "eval", *(str(path) for path in inputs), "--codecs", "cmfr", "--model", str(weights),
            "--qualities", qualities, "--frames", str(frames), "--intra-period", str(intra_period),
            "--output", str(report), "--resume"]


def evaluate(run: Path, inputs: list[Path], frames: int, qualities: str, intra_period: int) -> dict:
    """Code ``inputs`` with both final models (``cmfr eval``), print the tables, write ``run/summary.json``."""
    reports = {}
    for variant in VARIANTS:
        report = run / f"eval-{variant}.json"
        command = eval_command(inputs, final_weights(run, variant), report, frames, qualities, intra_period)
        print(" ".join(command), flush=True)
        subprocess.run([sys.executable, "-m", "cmfr_codec", *command[1:]], check=True, cwd=ROOT)
        reports[variant] = json.loads(report.read_text())
    points = {variant: rd_points(report) for variant, report in reports.items()}
    comparison = compare(points["float"], points["integer"])
    print(table(points["float"], points["integer"], comparison, VARIANTS[::-1]))
    print()
    by_type = {}
    for frame_type in ("I", "P"):
        typed = {variant: rd_points(report, frame_type) for variant, report in reports.items()}
        by_type[frame_type] = compare(typed["float"], typed["integer"])
        print(f"{frame_type}-frames only (means over the {frame_type}-frames of each sequence):")
        print(table(typed["float"], typed["integer"], by_type[frame_type], VARIANTS[::-1]))
        print()
    print(training_table({variant: _variant_folder(run, variant) for variant in VARIANTS}, STAGES))
    summary = {"points": {variant: {name: {str(quality): point for quality, point in sequence.items()}
                                    for name, sequence in variant_points.items()}
                          for variant, variant_points in points.items()},
               **comparison, "by_frame_type": by_type}
    (run / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


# -- command line -------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=RUN, help=f"run folder (default: {RUN.relative_to(ROOT)})")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_parser = commands.add_parser("prepare", help="write the two starting points")
    prepare_parser.add_argument("--source", default="cmfr-s", help="source weights: installed name or path (default: cmfr-s)")
    prepare_parser.add_argument("--seed", type=int, default=0, help="seed of the fresh entropy-parameter networks (default: 0)")
    train_parser = commands.add_parser("train", help="train one variant (intra, then inter-rate)")
    train_parser.add_argument("--variant", choices=VARIANTS, required=True)
    train_parser.add_argument("--intra-steps", type=int, required=True)
    train_parser.add_argument("--inter-steps", type=int, required=True)
    train_parser.add_argument("--batch", type=int, default=4, help="(default: 4)")
    train_parser.add_argument("--crop", type=int, default=192, help="luma crop, a multiple of 64 (default: 192)")
    train_parser.add_argument("--learning-rate", type=float, default=None,
                              help="learning rate at step 1 of each stage (default: the stage config's)")
    train_parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    train_parser.add_argument("--checkpoint-every", type=int, default=25, help="(default: 25)")
    train_parser.add_argument("--validation-clips", type=int, default=4,
                              help="held-out clips validated at the start and end of each stage (default: 4)")
    train_parser.add_argument("--workers", type=int, default=1, help="DataLoader workers (default: 1)")
    evaluate_parser = commands.add_parser("evaluate", help="code the held-out clips with both models, BD-rate")
    evaluate_parser.add_argument("--inputs", type=Path, nargs="+", default=None,
                                 help="clips to code (default: the example clip, and data/sources/bikes.mp4 if fetched)")
    evaluate_parser.add_argument("--frames", type=int, default=10, help="(default: 10)")
    evaluate_parser.add_argument("--qualities", default="0,21,42,63", help="(default: 0,21,42,63)")
    evaluate_parser.add_argument("--intra-period", type=int, default=10, help="(default: 10)")
    arguments = parser.parse_args()
    if arguments.command == "prepare":
        prepare(arguments.source, arguments.seed, arguments.run)
    elif arguments.command == "train":
        budget = Budget(arguments.intra_steps, arguments.inter_steps, arguments.batch, arguments.crop,
                        arguments.learning_rate, arguments.seed, arguments.checkpoint_every,
                        arguments.validation_clips, arguments.workers)
        train(arguments.variant, budget, arguments.run)
    else:
        evaluate(arguments.run, arguments.inputs or validation_clips(), arguments.frames, arguments.qualities,
                 arguments.intra_period)


if __name__ == "__main__":
    main()
