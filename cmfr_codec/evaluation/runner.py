"""Running jobs one after another or in worker processes, with the same results either way.

Workers are started with ``spawn`` (no inherited torch or FFmpeg state), ignore Ctrl-C (the main
process stops them) and score with the main process's torch thread count, because MS-SSIM's
convolutions round differently with another thread count.  Coding itself does not depend on it:
the learned codec codes on one thread (docs/determinism.md) and the baselines use libavcodec's
automatic thread count in every process alike.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cmfr_codec.errors import CmfrError
from cmfr_codec.evaluation.jobs import Job, run_job
from cmfr_codec.models.stripes import available_cores, set_worker_count

JobDone = Callable[[Job, dict[str, Any]], None]


class JobFailed(CmfrError):
    """A job failed in a worker process; carries the original error's message and exit code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def run_jobs(
    jobs: list[Job], *, workdir: Path, msssim: bool, processes: int, score_threads: int, on_done: JobDone
) -> None:
    """Run every job, calling ``on_done(job, entry)`` in the main process as each one finishes."""
    if processes <= 1 or len(jobs) <= 1:
        _set_threads(score_threads)
        for index, job in enumerate(jobs):
            on_done(job, run_job(job, workdir / f"job{index}", msssim))
        return
    context = multiprocessing.get_context("spawn")
    workers = min(processes, len(jobs))
    coding_threads = max(1, available_cores() // workers)
    pool = context.Pool(workers, initializer=_start_worker, initargs=(score_threads, coding_threads))
    try:
        tasks = [(index, job, workdir / f"job{index}", msssim) for index, job in enumerate(jobs)]
        for index, entry, failure in pool.imap_unordered(_run_in_worker, tasks):
            if failure is not None:
                message, exit_code = failure
                raise JobFailed(message, exit_code)
            on_done(jobs[index], entry)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _set_threads(threads: int) -> None:
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _start_worker(score_threads: int, coding_threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_threads(score_threads)
    # Parallel jobs share the cores; the coded bits do not depend on how many each one uses.
    set_worker_count(coding_threads)


def _run_in_worker(task: tuple[int, Job, Path, bool]) -> tuple[int, dict[str, Any] | None, tuple[str, int] | None]:
    index, job, workdir, msssim = task
    try:
        return index, run_job(job, workdir, msssim), None
    except CmfrError as error:
        return index, None, (str(error), error.exit_code)
    except Exception as error:  # noqa: BLE001 - reported by the main process as one line
        return index, None, (f"internal error in {job.label}: {type(error).__name__}: {error}", 1)
