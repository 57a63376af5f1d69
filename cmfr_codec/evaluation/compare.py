"""A whole comparison: sequences -> jobs -> entries -> report (JSON, CSV, RD plot).

::

    inputs --collect_sequences--> sequences --probe--> plan_jobs --(--resume: drop finished)--> run_jobs
                                                                                                  |
       REPORT.json / .csv / .png <--write-- build_report (class averages, BD-rates) <-- entries --+

Outputs appear only when the run finishes, except with ``resume``: then the report is also
rewritten (atomically, marked ``"complete": false``) after every finished job, so that an
interrupted run can be continued.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from cmfr_codec.errors import InputError
from cmfr_codec.evaluation.bdrate import BD_METRICS
from cmfr_codec.evaluation.jobs import Job, plan_jobs
from cmfr_codec.evaluation.report import build_report, environment, finished_entries, write_report
from cmfr_codec.evaluation.runner import run_jobs
from cmfr_codec.evaluation.settings import (
    CODECS,
    DEFAULT_BD_METHOD,
    DEFAULT_CODECS,
    DEFAULT_INTRA_PERIOD,
    CodecSettings,
)
from cmfr_codec.evaluation.sources import collect_sequences

JobProgress = Callable[[Job, dict[str, Any]], None]


@dataclass(frozen=True)
class Comparison:
    """What ``cmfr eval INPUT... --codecs ...`` asks for."""

    inputs: tuple[Path, ...]
    codecs: tuple[str, ...] = DEFAULT_CODECS
    settings: CodecSettings = CodecSettings()
    intra_period: int | None = None
    frames: int | None = None
    skip: int = 0
    size: tuple[int, int] | None = None
    fps: Fraction | None = None
    msssim: bool = True
    anchor: str | None = None
    bd_method: str = DEFAULT_BD_METHOD
    output: Path | None = None
    resume: bool = False
    processes: int = 1

    @property
    def resolved_anchor(self) -> str:
        """``--anchor``, else x264 when it is compared, else the first codec."""
        if self.anchor is not None:
            return self.anchor
        return "x264" if "x264" in self.codecs else self.codecs[0]

    def check(self) -> None:
        unknown = [codec for codec in self.codecs if codec not in CODECS]
        if unknown or not self.codecs:
            raise InputError(f"unknown codec {', '.join(unknown) or '(none)'}: choose from {', '.join(CODECS)}")
        if len(set(self.codecs)) != len(self.codecs):
            raise InputError(f"--codecs names a codec twice: {','.join(self.codecs)}")
        if self.resolved_anchor not in self.codecs:
            raise InputError(f"--anchor {self.resolved_anchor} is not one of --codecs {','.join(self.codecs)}")
        if self.resume and self.output is None:
            raise InputError("--resume needs --output REPORT.json: the report to continue")


def _model_digest(comparison: Comparison) -> str | None:
    if "cmfr" not in comparison.codecs:
        return None
    from cmfr_codec.weights import find_weights

    return find_weights(comparison.settings.model).digest.hex()


def plan(comparison: Comparison) -> list[Job]:
    """Every job of the comparison; reads each input's header, so bad inputs fail before any coding."""
    comparison.check()
    sequences = collect_sequences(
        comparison.inputs, size=comparison.size, fps=comparison.fps, frames=comparison.frames, skip=comparison.skip
    )
    probed = [(sequence, sequence.probe()) for sequence in sequences]
    period = DEFAULT_INTRA_PERIOD if comparison.intra_period is None else comparison.intra_period
    return plan_jobs(probed, comparison.codecs, comparison.settings, period, _model_digest(comparison))


def run_comparison(comparison: Comparison, jobs: list[Job], on_job: JobProgress | None = None) -> dict[str, Any]:
    """Run (or, with ``resume``, finish) the jobs and write the outputs; returns the report."""
    import torch

    score_threads = torch.get_num_threads()
    anchor = comparison.resolved_anchor if len(comparison.codecs) > 1 else None
    metrics = BD_METRICS if comparison.msssim else tuple(metric for metric in BD_METRICS if "msssim" not in metric)
    settings = {
        "codecs": list(comparison.codecs),
        **{key: list(value) if isinstance(value, tuple) else value for key, value in asdict(comparison.settings).items()},
        "intra_period": comparison.intra_period,
        "frames": comparison.frames,
        "skip": comparison.skip,
        "msssim": comparison.msssim,
    }
    machine = environment(comparison.settings.device, score_threads)
    done: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    if comparison.resume and comparison.output is not None:
        done.update(finished_entries(comparison.output, jobs, comparison.msssim))

    def report(complete: bool) -> dict[str, Any]:
        entries = [done[job.key] for job in jobs if job.key in done]
        return build_report(entries, complete=complete, settings=settings, anchor=anchor,
                            bd_method=comparison.bd_method, bd_metrics=metrics, machine=machine)

    def finished(job: Job, entry: dict[str, Any]) -> None:
        done[job.key] = entry
        if comparison.resume and comparison.output is not None:
            write_report(report(complete=False), comparison.output)
        if on_job is not None:
            on_job(job, entry)

    pending = [job for job in jobs if job.key not in done]
    with tempfile.TemporaryDirectory(prefix="cmfr-eval-") as workdir:
        run_jobs(pending, workdir=Path(workdir), msssim=comparison.msssim, processes=comparison.processes,
                 score_threads=score_threads, on_done=finished)
    final = report(complete=True)
    if comparison.output is not None:
        write_report(final, comparison.output, plot=True)
    return final
