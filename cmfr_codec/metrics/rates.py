"""Rates from compressed file sizes: bits per pixel and kilobits per second."""

from __future__ import annotations

from fractions import Fraction


def bits_per_pixel(file_bytes: int, width: int, height: int, frame_count: int) -> float:
    """File bits per luma pixel over all frames: ``bytes * 8 / (width * height * frames)``.

    Counting the whole file, headers included, charges the codec for everything a user must store.
    """
    if width <= 0 or height <= 0 or frame_count <= 0:
        raise ValueError(
            f"bits per pixel needs a positive size and frame count, got {width}x{height}, {frame_count}"
        )
    return file_bytes * 8 / (width * height * frame_count)


def kilobits_per_second(file_bytes: int, frame_count: int, fps: Fraction) -> float:
    """Average bitrate in kbit/s (1000 bits): file bits divided by the duration ``frames / fps``."""
    if frame_count <= 0 or fps <= 0:
        raise ValueError(f"a bitrate needs a positive frame count and frame rate, got {frame_count}, {fps}")
    return float(Fraction(file_bytes * 8) * Fraction(fps) / frame_count / 1000)
