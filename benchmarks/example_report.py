"""The README's example comparison, regenerated from the one command it shows.

    python benchmarks/example_report.py

Runs COMMAND from the repository root (it writes docs/example_report/report.json, .csv and .png),
then replaces the README block between the ``example-report`` markers with that command, the
machine it ran on (from the report's ``environment``), the tables it printed, one sentence
comparing cmfr with x264 computed from the report, and the RD plot.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORT = Path("docs/example_report/report.json")
COMMAND = [
    "cmfr", "eval", "examples/city_416x240_25fps.mkv", "--codecs", "cmfr,x264,x265",
    "--frames", "10", "--intra-period", "10", "--output", str(REPORT),
]
START, END = "<!-- example-report -->", "<!-- /example-report -->"


def _machine(report: dict) -> str:
    environment = report["environment"]
    gpu = environment["gpu"] or "no GPU"
    return (
        f"{environment['cpu']}, {environment['logical_cpus']} logical CPUs, {environment['machine']}, {gpu}; "
        f"torch {environment['torch']}, PyAV {environment['pyav']}"
    )


def _comparison(report: dict) -> str:
    """One sentence on cmfr against x264 in PSNR-YUV, from the report's own numbers."""
    row = next((row for row in report["bd_rate"]["per_class"] if row["codec"] == "cmfr"), None)
    if row is not None and row["class_curve"]["psnr_yuv"] is not None:
        value = row["class_curve"]["psnr_yuv"]
        more_or_fewer = "more" if value > 0 else "fewer"
        return f"cmfr needs {abs(value):.1f} % {more_or_fewer} bits than x264 for the same PSNR-YUV (BD-rate, PCHIP)."
    points = {codec: [point for point in report["class_points"] if point["codec"] == codec] for codec in ("cmfr", "x264")}
    best = max(points["cmfr"], key=lambda point: point["psnr_yuv"])
    worst = min(points["x264"], key=lambda point: point["psnr_yuv"])
    return (
        f"cmfr's curve shares no PSNR-YUV range with x264's, so there is no BD-rate: its best point reaches "
        f"{best['psnr_yuv']:.2f} dB at {best['bpp']:.4f} bpp, while x264's lowest point already has "
        f"{worst['psnr_yuv']:.2f} dB at {worst['bpp']:.4f} bpp."
    )


def main() -> None:
    print("$", " ".join(COMMAND), flush=True)
    (REPO / REPORT).parent.mkdir(parents=True, exist_ok=True)
    run = subprocess.run([sys.executable, "-m", "cmfr_codec", *COMMAND[1:]], cwd=REPO, capture_output=True, text=True)
    sys.stderr.write(run.stderr)
    if run.returncode != 0:
        sys.exit(run.returncode)
    tables = "\n".join(line.rstrip() for line in run.stdout.strip("\n").splitlines())
    print(tables)
    report = json.loads((REPO / REPORT).read_text())
    block = "\n".join([
        START,
        f"Made by `python benchmarks/example_report.py`, which runs this command on {_machine(report)}:",
        "",
        "```",
        " ".join(COMMAND),
        "```",
        "",
        "```",
        tables,
        "```",
        "",
        _comparison(report),
        "",
        f"![RD curves of cmfr, x264 and x265 on the example clip]({REPORT.with_suffix('.png').as_posix()})",
        END,
    ])
    readme = REPO / "README.md"
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        sys.exit(f"README.md has no {START} ... {END} block to replace")
    readme.write_text(pattern.sub(lambda _: block, text))
    print(f"updated README.md and {REPORT.parent}/")


if __name__ == "__main__":
    main()
