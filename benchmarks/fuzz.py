"""Fuzz the container reader and the decoder with mutated real bitstreams; print the tally.

    python benchmarks/fuzz.py [--cases 10000] [--seed 0] [--model NAME|PATH]

Seeds are the example clip cut to 64x64, 72x40 and 96x64 (3-4 frames) and scaled to 64x256 (2
frames, its latents in row bands), encoded by the pipeline with a randomly initialised tiny model
(fixed seed), or with ``--model``.  Each case
applies one mutation (the kinds are taken in turn) and runs what ``cmfr decode`` runs once
its weights are loaded.  A case passes when it decodes or raises ``BitstreamError``;
anything else, or a case running longer than ``--case-seconds``, is a failure, and the exit
code is then 1.  tests/fuzzing.py holds the harness; tests/test_fuzz.py runs a few hundred
of its cases.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzzing import CASE_SECONDS, MUTATIONS, OUTCOMES, cases, make_seeds, run_case, tiny_model  # noqa: E402

from cmfr_codec.weights import find_weights, load_model  # noqa: E402


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000, help="number of cases (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="the cases' random seed (default 0)")
    parser.add_argument("--model", default=None,
                        help="weights to encode the seeds and decode with (default: a random tiny model)")
    parser.add_argument("--case-seconds", type=float, default=CASE_SECONDS,
                        help=f"a case running longer is a failure (default {CASE_SECONDS:.0f})")
    return parser.parse_args()


def main() -> int:
    arguments = parse_arguments()
    console = Console(width=110)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        model = load_model(find_weights(arguments.model)) if arguments.model else tiny_model(folder)
        seeds = make_seeds(model, folder)
        console.print(f"machine: {platform.machine()} cpus={os.cpu_count()} torch={torch.__version__} "
                      f"threads={torch.get_num_threads()} model={arguments.model or 'random tiny'}")
        console.print("seeds: " + "; ".join(f"{seed.name} ({len(seed.data)} bytes)" for seed in seeds))
        tally: Counter[tuple[str, str]] = Counter()
        slowest: Counter[str] = Counter()
        failures = []
        start = time.perf_counter()
        for case in cases(seeds, arguments.cases, arguments.seed):
            outcome = run_case(case.data, model, folder, arguments.case_seconds)
            tally[case.kind, outcome.kind] += 1
            slowest[case.kind] = max(slowest[case.kind], outcome.seconds)
            if outcome.kind == "failure":
                failures.append(f"case {case.number} ({case.kind}, seed {case.seed}): {outcome.detail}")
        seconds = time.perf_counter() - start
    table = Table(title=f"{arguments.cases} cases, seed {arguments.seed}")
    table.add_column("mutation")
    for column in ("cases", *OUTCOMES, "slowest case (s)"):
        table.add_column(column, justify="right")
    for kind in MUTATIONS:
        counts = [tally[kind, outcome] for outcome in OUTCOMES]
        table.add_row(kind, str(sum(counts)), *map(str, counts), f"{slowest[kind]:.2f}")
    totals = [sum(tally[kind, outcome] for kind in MUTATIONS) for outcome in OUTCOMES]
    table.add_row("all", str(sum(totals)), *map(str, totals), f"{max(slowest.values(), default=0):.2f}",
                  style="bold")
    console.print(table)
    peak_megabytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"{seconds:.0f} s in all, {1000 * seconds / max(arguments.cases, 1):.0f} ms per case; "
                  f"peak memory of the process {peak_megabytes:.0f} MB")
    for failure in failures[:20]:
        console.print(failure, markup=False)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
