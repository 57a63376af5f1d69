"""What a ``cmfr train`` run folder holds, stage by stage: steps, settings, wall time, validation.

    python benchmarks/training_summary.py runs/s-cpu

Per stage folder (in the order of ``cmfr train --stage all``): the steps done and the stage's
settings (from ``checkpoint.pt``), when it started and ended (the birth time of its ``train.csv``,
read with ``stat -c %W`` where the file system records it, and the modification time of its
weights file), and its first and last validation rows (``validation.csv``: the stage's loss on the
held-out clips at the four anchor qualities).  Wall times include whatever else ran on the machine.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
from pathlib import Path

from cmfr_codec.training.stages import STAGE_ORDER
from cmfr_codec.training.trainer import CHECKPOINT_NAME, TRAIN_LOG, VALIDATION_LOG, load_checkpoint, read_log


def birth_time(path: Path) -> float | None:
    """When ``path`` was created, where ``stat`` and the file system know it."""
    try:
        done = subprocess.run(["stat", "-c", "%W", str(path)], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    seconds = int(done.stdout.strip() or 0)
    return float(seconds) if seconds > 0 else None


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="the --output folder of cmfr train")
    arguments = parser.parse_args(argv)
    print("| stage | steps | batch x crop | frames | learning rate | started (UTC) | ended (UTC) | minutes "
          "| validation bpp | validation PSNR dB |")
    print("| --- | ---: | --- | ---: | --- | --- | --- | ---: | --- | --- |")
    for name in (*STAGE_ORDER, "msssim"):
        folder = arguments.run / name
        if not (folder / CHECKPOINT_NAME).is_file():
            continue
        checkpoint = load_checkpoint(folder / CHECKPOINT_NAME)
        stage = checkpoint.stage
        weights = folder / f"{checkpoint.config.name}.intra.cmfrw"
        started = birth_time(folder / TRAIN_LOG)
        ended = weights.stat().st_mtime if weights.is_file() else None
        minutes = f"{(ended - started) / 60:.0f}" if started is not None and ended is not None else "-"
        rows = read_log(folder / VALIDATION_LOG) if (folder / VALIDATION_LOG).is_file() else []
        validation = ("- | -" if not rows else
                      f"{rows[0]['bpp']:.4f} -> {rows[-1]['bpp']:.4f} | {rows[0]['psnr']:.2f} -> {rows[-1]['psnr']:.2f}")
        print(f"| {name} | {checkpoint.step} of {stage.steps} | {stage.batch} x {stage.crop} | {stage.frames} | "
              f"{stage.learning_rate:g} -> {stage.final_learning_rate:g} | {clock(started)} | "
              f"{clock(ended) if ended is not None else 'running'} | {minutes} | {validation} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
