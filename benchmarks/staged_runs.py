"""Stage runs of the equal-budget benchmarks (integer_cost.py, ablation.py): train in order, resumable, summarised.

A variant's run folder holds one sub-folder per stage, as ``cmfr train --output`` writes them, and
``wall_seconds.json`` (the wall time each stage took, summed over resumptions)::

    RUN/STAGE/checkpoint.pt, train.csv, validation.csv, NAME.intra.cmfrw, NAME.inter.cmfrw

:func:`train_in_order` skips a finished stage, resumes an interrupted one from its checkpoint, and
starts each other stage from the weights the stage before it left (the first from ``start``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from cmfr_codec.training.stages import StageConfig
from cmfr_codec.training.trainer import (
    CHECKPOINT_NAME,
    TRAIN_LOG,
    VALIDATION_LOG,
    RunSettings,
    load_checkpoint,
    read_log,
    run_stages,
)

WALL_TIMES = "wall_seconds.json"


def stage_weights(folder: Path) -> Path | None:
    """The intra file of the weights pair a finished stage left in ``folder``, if any."""
    found = sorted(folder.glob("*.intra.cmfrw"))
    return found[0] if found else None


def train_in_order(output: Path, stages: list[StageConfig], settings: RunSettings,
                   start: Callable[[StageConfig], None], label: str) -> Path:
    """Train ``stages`` one after another into ``output``/STAGE; -> the last stage's weights.

    ``start(config)`` runs the first stage when it has neither weights nor a checkpoint yet (from a
    weights file, or a fresh model); every later stage starts from the weights of the one before.
    """
    output.mkdir(parents=True, exist_ok=True)
    times_path = output / WALL_TIMES
    weights = None
    for number, config in enumerate(stages):
        folder = output / config.name
        checkpoint = folder / CHECKPOINT_NAME
        done_step = load_checkpoint(checkpoint).step if checkpoint.is_file() else None
        if done_step == config.steps and stage_weights(folder) is not None:
            print(f"{label} {config.name}: done ({config.steps} steps)", flush=True)
            weights = stage_weights(folder)
            continue
        started = time.monotonic()
        if done_step is not None and done_step < config.steps:
            print(f"{label} {config.name}: resuming {checkpoint} at step {done_step + 1} of {config.steps}", flush=True)
            run_stages([config], settings, resume=checkpoint, resume_overrides=lambda _, config=config: config)
        elif number == 0:
            print(f"{label} {config.name}: {config.steps} steps", flush=True)
            start(config)
        else:
            print(f"{label} {config.name}: {config.steps} steps from {weights}", flush=True)
            run_stages([config], settings, init=weights)
        times = json.loads(times_path.read_text()) if times_path.is_file() else {}
        times[config.name] = times.get(config.name, 0.0) + time.monotonic() - started
        times_path.write_text(json.dumps(times, indent=1))
        weights = stage_weights(folder)
    print(f"{label}: final weights {weights}", flush=True)
    return weights


def training_table(outputs: dict[str, Path], stages: tuple[str, ...]) -> str:
    """Markdown: per variant and stage, the steps run, the wall time, the last training loss, and the
    first and last validation of the held-out clips."""
    lines = ["| variant | stage | steps | wall | last train loss | validation bpp | validation PSNR dB |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for variant, output in outputs.items():
        seconds = json.loads((output / WALL_TIMES).read_text()) if (output / WALL_TIMES).is_file() else {}
        for stage in stages:
            folder = output / stage
            if not (folder / TRAIN_LOG).is_file():
                continue
            last = read_log(folder / TRAIN_LOG)[-1]
            validation = read_log(folder / VALIDATION_LOG)
            wall = f"{seconds[stage] / 60:.1f} min" if stage in seconds else "-"
            checked = ("- | -" if not validation else
                       f"{validation[0]['bpp']:.4f} -> {validation[-1]['bpp']:.4f} | "
                       f"{validation[0]['psnr']:.2f} -> {validation[-1]['psnr']:.2f}")
            lines.append(f"| {variant} | {stage} | {int(last['step'])} | {wall} | {last['loss']:.4f} | {checked} |")
    return "\n".join(lines)
