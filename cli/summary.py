"""The one line a coding command prints when it is done."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from rich.console import Console
from rich.markup import escape


def report_totals(verb: str, result, width: int, height: int, fps: Fraction, bitstream: Path) -> None:
    """``encoded 32 frames of 416x240 into out.bin: 51234 bytes, 0.1234 bpp, 400.3 kbps`` on stderr."""
    from cmfr_codec.metrics import bits_per_pixel, kilobits_per_second

    bpp = bits_per_pixel(result.file_bytes, width, height, result.frames)
    kbps = kilobits_per_second(result.file_bytes, result.frames, fps)
    Console(stderr=True, highlight=False).print(
        f"{verb} {result.frames} frames of {width}x{height} ({escape(str(bitstream))}: "
        f"{result.file_bytes} bytes, {bpp:.4f} bpp, {kbps:.1f} kbps)"
    )
