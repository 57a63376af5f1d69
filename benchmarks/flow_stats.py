"""How much do the prepared set's videos move?  DIS flow lengths per split and frame distance.

    python benchmarks/flow_stats.py [--data data/prepared-city] [--clips 40] [--strides 1 3 6] [--crop 256]

For ``--clips`` evenly spaced clips of each split (centre crops of ``--crop`` luma pixels square,
the motion stage's crop by default), the DIS flow (:func:`~cmfr_codec.training.flow_teacher.dis_flow_targets`, the
motion stage's teacher) of frame ``s`` to frame 0, for each stride ``s``; the table gives the
length of those flow vectors over all pixels, in half-resolution pixels (the codec's flow units):
mean, median, 90th percentile and the shares above 1 and 3 pixels.  It is the measurement behind
the motion stage's ``max_frame_stride`` (docs/training.md, "A cost volume, frame strides and
synthetic motion").
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch

from cmfr_codec.data.dataset import TRAIN, VALIDATION, ClipDataset
from cmfr_codec.training.flow_teacher import dis_flow_targets


def flow_lengths(clips: ClipDataset, count: int, stride: int) -> torch.Tensor:
    """The lengths of the DIS flow of frame ``stride`` to frame 0 over ``count`` evenly spaced clips."""
    picks = torch.linspace(0, len(clips) - 1, min(count, len(clips))).round().long().unique()
    lengths = []
    for index in picks.tolist():
        clip = clips[index]
        flow = dis_flow_targets(torch.stack([clip[0], clip[stride]]))[0]
        lengths.append(flow.norm(dim=0).flatten())
    return torch.cat(lengths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/prepared-city"),
                        help="prepared set (default: data/prepared-city)")
    parser.add_argument("--clips", type=int, default=40, help="clips per split (default: 40)")
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 3, 6],
                        help="frame distances to measure (default: 1 3 6)")
    parser.add_argument("--crop", type=int, default=256, help="luma side of the centre crops, even (default: 256)")
    arguments = parser.parse_args(argv)
    if arguments.clips < 1:
        parser.error(f"--clips must be 1 or more, got {arguments.clips}")
    print(f"{arguments.data}, {arguments.clips} clips per split, {arguments.crop}x{arguments.crop} centre crops; "
          f"torch {torch.__version__}, {platform.machine()}; DIS flow lengths in half-resolution pixels")
    print()
    print("| split | frames apart | mean | median | 90th percentile | share > 1 | share > 3 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for split in (TRAIN, VALIDATION):
        try:
            clips = ClipDataset(arguments.data, split, crop=arguments.crop, augment=False)
        except ValueError as error:
            parser.error(f"--crop: {error}")
        for stride in arguments.strides:
            if not 1 <= stride < clips.frames:
                parser.error(f"--strides must be 1..{clips.frames - 1} (the clips have {clips.frames} frames), got {stride}")
            lengths = flow_lengths(clips, arguments.clips, stride)
            print(f"| {split} | {stride} | {lengths.mean():.2f} | {lengths.median():.2f} | "
                  f"{lengths.quantile(0.9):.2f} | {(lengths > 1).float().mean():.0%} | "
                  f"{(lengths > 3).float().mean():.0%} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
