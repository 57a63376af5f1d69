"""Do new weights beat the shipped ones?  Both coded with ``cmfr eval`` on the held-out clips, one BD-rate.

    python benchmarks/compare_weights.py --candidate runs/s/cascade/cmfr-s.intra.cmfrw
        [--baseline cmfr-s] [--frames 32] [--qualities 0,21,42,63] [--run runs/compare] [INPUT ...]

The inputs default to the validation split's clips (docs/data.md): the example clip (cut from
cityCC0.mpg) and, when ``cmfr data fetch`` has fetched it, bikes.mp4.  Each model codes them with
``cmfr eval --codecs cmfr`` (intra period 32, the eval default) into ``RUN/baseline.json`` and
``RUN/candidate.json`` (``--resume``: points already there are kept, so rerun after a change of
weights with a fresh ``--run``).  It prints both models' RD points and the BD-rate (PSNR-YUV) of the
candidate against the baseline per clip and on the mean curve, and ends with one verdict line:
the candidate is better when that mean-curve BD-rate is negative.  When the curves share no PSNR
range, BD-rate is undefined and the verdict falls back on BD-PSNR (the mean PSNR difference over the
rates both curves cover; positive is better); when they share no rate range either, both models are
measured against a third codec (``--anchor``, default x264 medium low delay at CRF 22..51, coded with
``cmfr eval`` into ``RUN/anchor-CODEC.json``), and the candidate is better when its BD-rate against it
is lower (where both models have one), else when its BD-PSNR against it is higher; with neither
defined, or ``--anchor none``, the verdict is undecided and says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from cmfr_codec.evaluation.model_comparison import (
    anchored_table,
    anchored_verdict,
    compare,
    compare_through_anchor,
    rd_points,
    table,
    verdict,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CLIP = ROOT / "examples" / "city_416x240_25fps.mkv"
ANCHOR_CRF = "22,27,32,37,42,47,51"
"""The JCT-VC CRFs and three more, down to x264's coarsest, to reach the low rates of young models."""


def validation_clips() -> list[Path]:
    """The validation split's clips (docs/data.md): the example clip, and bikes.mp4 once fetched."""
    bikes = ROOT / "data" / "sources" / "bikes.mp4"
    return [EXAMPLE_CLIP, *([bikes] if bikes.is_file() else [])]


def add_model_run_arguments(parser: argparse.ArgumentParser, run: str) -> None:
    """``--model``, ``--frames``, ``--qualities`` and ``--run`` (default ``runs/RUN``) of the scripts that code
    the validation clips with one model under several encoder settings."""
    parser.add_argument("--model", default="cmfr-s", help="installed model name or weights file (default: cmfr-s)")
    parser.add_argument("--frames", type=int, default=32, help="frames per clip (default: 32)")
    parser.add_argument("--qualities", default="0,21,42,63", help="quality indices (default: 0,21,42,63)")
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / run, help=f"report folder (default: runs/{run})")


def evaluate(weights: str, inputs: list[Path], report: Path, frames: int, qualities: str,
             options: tuple[str, ...] = ()) -> dict:
    """``cmfr eval --codecs cmfr`` of ``weights`` (plus any further eval ``options``) into ``report``."""
    return _eval(inputs, report, frames, ("--codecs", "cmfr", "--model", weights, *options, "--qualities", qualities))


def evaluate_anchor(codec: str, inputs: list[Path], report: Path, frames: int, crf: str) -> dict:
    """``cmfr eval --codecs CODEC --crf LIST`` (x264 or x265, medium, low delay) into ``report``."""
    return _eval(inputs, report, frames, ("--codecs", codec, "--crf", crf))


def _eval(inputs: list[Path], report: Path, frames: int, options: tuple[str, ...]) -> dict:
    command = ["eval", *map(str, inputs), *options, "--frames", str(frames), "--no-msssim", "--output", str(report),
               "--resume"]
    print("cmfr " + " ".join(command), flush=True)
    subprocess.run([sys.executable, "-m", "cmfr_codec", *command], check=True, cwd=ROOT)
    return json.loads(report.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="*", type=Path, help="clips (default: the validation clips)")
    parser.add_argument("--baseline", default="cmfr-s", help="installed model name or weights file (default: cmfr-s)")
    parser.add_argument("--candidate", required=True, help="weights file of the model to judge")
    parser.add_argument("--frames", type=int, default=32, help="frames per clip (default: 32)")
    parser.add_argument("--qualities", default="0,21,42,63", help="quality indices (default: 0,21,42,63)")
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "compare", help="report folder (default: runs/compare)")
    parser.add_argument("--anchor", choices=("x264", "x265", "none"), default="x264",
                        help="when the two curves share neither a quality nor a rate range, judge each model by its "
                             "BD-rate (else BD-PSNR) against this codec on the same clips (default: x264)")
    parser.add_argument("--anchor-crf", default=ANCHOR_CRF, help=f"the anchor's CRFs (default: {ANCHOR_CRF})")
    arguments = parser.parse_args(argv)
    inputs = arguments.inputs or validation_clips()
    arguments.run.mkdir(parents=True, exist_ok=True)
    points = {label: rd_points(evaluate(weights, inputs, arguments.run / f"{label}.json", arguments.frames,
                                        arguments.qualities))
              for label, weights in (("baseline", arguments.baseline), ("candidate", arguments.candidate))}
    comparison = compare(points["baseline"], points["candidate"])
    print(table(points["baseline"], points["candidate"], comparison, ("baseline", "candidate")))
    better, reason = verdict(comparison)
    if better is None and arguments.anchor != "none":
        print(f"\nno direct verdict ({reason}); both models against {arguments.anchor}:\n")
        anchor = rd_points(evaluate_anchor(arguments.anchor, inputs, arguments.run / f"anchor-{arguments.anchor}.json",
                                           arguments.frames, arguments.anchor_crf))
        through = compare_through_anchor(points["baseline"], points["candidate"], anchor)
        print(anchored_table(through, arguments.anchor))
        better, reason = anchored_verdict(through, arguments.anchor)
    if better is None:
        print(f"verdict: undecided, {reason}")
    else:
        print(f"verdict: the candidate is {'better' if better else 'not better'} ({reason})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
