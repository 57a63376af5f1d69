"""Check that a prepared set loads here, and how fast: ``python -m cmfr_codec.data.check [ROOT]``.

Meant for the training machine before a run (it needs only numpy, torch and PyAV or OpenCV):
decodes every shard of both splits with the chosen decoder, checks each against the sha256 that
``cmfr data prepare`` recorded, then times random items and a DataLoader with workers.
"""

from __future__ import annotations

import argparse
import time

from torch.utils.data import DataLoader

from cmfr_codec.data.dataset import DEFAULT_CROP, TRAIN, VALIDATION, ClipDataset, StillDataset
from cmfr_codec.data.decoders import DEFAULT_DECODER, available_decoders


def _timed(build):
    start = time.perf_counter()
    value = build()
    return value, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", default="data/prepared", help="the prepared set (default: data/prepared)")
    parser.add_argument("--decoder", choices=available_decoders(), default=DEFAULT_DECODER,
                        help=f"shard decoder (default: {DEFAULT_DECODER}, the first of {available_decoders()} found)")
    parser.add_argument("--crop", type=int, default=DEFAULT_CROP, help=f"luma crop (default: {DEFAULT_CROP})")
    parser.add_argument("--batch", type=int, default=8, help="clips per batch (default: 8)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (default: 2)")
    parser.add_argument("--batches", type=int, default=40, help="batches to time (default: 40)")
    arguments = parser.parse_args(argv)

    print(f"decoder: {arguments.decoder}")
    for kind, split in ((ClipDataset, TRAIN), (ClipDataset, VALIDATION), (StillDataset, TRAIN), (StillDataset, VALIDATION)):
        dataset, seconds = _timed(lambda kind=kind, split=split: kind(arguments.root, split, crop=None, decoder=arguments.decoder))
        frames = sum(shard["frames"] for shard in dataset.shards)
        megabytes = sum(pictures.nbytes for pictures in dataset._pictures) / 2**20
        print(f"{split:10s} {kind.kind:6s}: {len(dataset.shards):2d} shards, {frames:5d} frames, decoded and checked "
              f"in {seconds:.1f} s ({megabytes:.0f} MiB in memory)")

    clips = ClipDataset(arguments.root, crop=arguments.crop, decoder=arguments.decoder)
    _, seconds = _timed(lambda: [clips[index] for index in range(len(clips))])
    print(f"items: {len(clips) / seconds:.0f} clips/s in one process ({clips.frames} x 6 x {arguments.crop // 2}^2 each)")
    loader = DataLoader(clips, batch_size=arguments.batch, shuffle=True, num_workers=arguments.workers, drop_last=True,
                        persistent_workers=arguments.workers > 0)
    batches = 0
    start = time.perf_counter()
    while batches < arguments.batches:
        for _ in loader:
            batches += 1
            if batches == arguments.batches:
                break
    seconds = time.perf_counter() - start
    print(f"DataLoader: {batches * arguments.batch / seconds:.0f} clips/s with {arguments.workers} workers, "
          f"batch {arguments.batch} (worker start included)")


if __name__ == "__main__":
    main()
