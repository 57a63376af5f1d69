"""The model card's RD table: the shipped cmfr-s next to x264 and x265 on two clips, with BD-rates.

    python benchmarks/model_card.py [--model cmfr-s] [--frames 32] [--crf 22,27,32,37,42,47,51]

For the example clip (examples/city_416x240_25fps.mkv, cut from cityCC0.mpg) and bikes.mp4 (fetched
by ``cmfr data fetch``; both are in the validation split, docs/data.md), it runs

    cmfr eval CLIP --codecs cmfr,x264,x265 --frames 32 --model MODEL --crf 22,27,32,37,42,47,51 \
        --output docs/model_card/NAME.json --resume

(quality indices 0, 21, 42, 63; x264 and x265 medium; low delay, intra period 32, the eval defaults; ``--resume`` keeps the points a report already holds, so delete the reports
after changing the weights), then rewrites the block between the ``model-card`` markers in
docs/models.md with, per clip: bpp, PSNR-YUV and MS-SSIM-YUV of every rate point, and the BD-rates
(PSNR-YUV and MS-SSIM-YUV, pchip) of cmfr against x264 and against x265, and of x265 against x264.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from cmfr_codec.evaluation.bdrate import bd_rate

REPO = Path(__file__).resolve().parents[1]
FOLDER = Path("docs/model_card")
CLIPS = {"city": Path("examples/city_416x240_25fps.mkv"), "bikes": Path("data/sources/bikes.mp4")}
START, END = "<!-- model-card:begin -->", "<!-- model-card:end -->"
METRICS = (("psnr_yuv", "PSNR-YUV"), ("msssim_yuv", "MS-SSIM-YUV"))
PAIRS = (("cmfr", "x264"), ("cmfr", "x265"), ("x265", "x264"))
CRF = "22,27,32,37,42,47,51"
"""The JCT-VC CRFs and three more down to the coarsest, so that the classical curves reach the low
qualities of a young model and BD-rates exist where the curves meet."""


def evaluate(name: str, clip: Path, model: str, frames: int, crf: str) -> dict:
    command = ["cmfr", "eval", str(clip), "--codecs", "cmfr,x264,x265", "--frames", str(frames), "--model", model,
               "--crf", crf, "--output", str(FOLDER / f"{name}.json"), "--resume"]
    print(" ".join(command), flush=True)
    subprocess.run([sys.executable, "-m", "cmfr_codec", *command[1:]], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return json.loads((REPO / FOLDER / f"{name}.json").read_text())


def curve(report: dict, codec: str, metric: str) -> list[tuple[float, float]]:
    return [(entry["bpp"], entry[metric]) for entry in report["results"] if entry["codec"] == codec]


def clip_block(name: str, clip: Path, report: dict) -> list[str]:
    first = report["results"][0]
    lines = [f"**{clip.name}** ({first['width']}x{first['height']}, {first['frames']} frames, intra period "
             f"{first['intra_period']}):", "",
             "| codec | rate point | bpp | PSNR-YUV dB | MS-SSIM-YUV |", "| --- | --- | ---: | ---: | ---: |"]
    for entry in report["results"]:
        point = f"q {entry['quality']}" if entry["quality_kind"] == "quality_index" else f"crf {entry['quality']}"
        lines.append(f"| {entry['codec']} | {point} | {entry['bpp']:.4f} | {entry['psnr_yuv']:.3f} | "
                     f"{entry['msssim_yuv']:.5f} |")
    lines += ["", "| BD-rate (pchip) | " + " | ".join(title for _, title in METRICS) + " |",
              "| --- | " + " | ".join("---:" for _ in METRICS) + " |"]
    notes = []
    for test, anchor in PAIRS:
        cells = []
        for metric, title in METRICS:
            value, note = bd_rate(curve(report, anchor, metric), curve(report, test, metric))
            cells.append("-" if value is None else f"{value:+.1f} %")
            if note is not None:
                notes.append(f"{test} against {anchor}, {title}: {note}")
        lines.append(f"| {test} against {anchor} | " + " | ".join(cells) + " |")
    if notes:
        lines += ["", "No BD-rate (-) where " + "; ".join(notes) + "."]
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="cmfr-s", help="installed model name or weights file (default: cmfr-s)")
    parser.add_argument("--frames", type=int, default=32, help="frames per clip (default: 32)")
    parser.add_argument("--crf", default=CRF, help=f"x264 and x265 CRFs (default: {CRF})")
    arguments = parser.parse_args(argv)
    missing = [str(clip) for clip in CLIPS.values() if not (REPO / clip).is_file()]
    if missing:
        raise SystemExit(f"error: {', '.join(missing)} missing: run 'cmfr data fetch' first")
    (REPO / FOLDER).mkdir(parents=True, exist_ok=True)
    reports = {name: evaluate(name, clip, arguments.model, arguments.frames, arguments.crf)
               for name, clip in CLIPS.items()}
    environment = next(iter(reports.values()))["environment"]
    machine = (f"{environment['cpu']}, {environment['logical_cpus']} logical CPUs, {environment['machine']}, "
               f"{environment['gpu'] or 'no GPU'}; torch {environment['torch']}, PyAV {environment['pyav']}")
    lines = [START, f"Made by `python benchmarks/model_card.py --model {arguments.model} --frames {arguments.frames} "
             f"--crf {arguments.crf}` "
             f"on {machine}.", ""]
    for name, clip in CLIPS.items():
        lines += clip_block(name, clip, reports[name])
    lines.append(END)
    block = "\n".join(lines)
    print(block)
    docs = REPO / "docs" / "models.md"
    text = docs.read_text()
    if START not in text:
        raise SystemExit(f"error: no {START} marker in {docs}")
    docs.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
