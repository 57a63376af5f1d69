"""Reading shards back, with PyAV where it is installed and OpenCV where it is not.

The training machine may have OpenCV (``opencv-python-headless``) and no PyAV.  Both decode the
monochrome H.264 of a shard exactly: PyAV's first plane is the stored picture, and OpenCV's BGR
conversion of a full-range grey picture copies the sample into B, G and R (checked with OpenCV
4.10, 4.14 and 5.0), so channel 0 is the stored picture.  The loader still compares the sha256 of
what it decoded with the one ``prepare`` recorded, so a decoder that did otherwise would be caught.
Neither library is imported before it is used.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

PYAV = "pyav"
OPENCV = "opencv"
_MODULES = {PYAV: "av", OPENCV: "cv2"}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available_decoders() -> tuple[str, ...]:
    """The decoders importable here, preferred first (PyAV, then OpenCV)."""
    return tuple(name for name, module in _MODULES.items() if _importable(module))


DEFAULT_DECODER: str | None = next(iter(available_decoders()), None)
"""The decoder the loader uses unless told otherwise, chosen when this module is imported."""


def resolve_decoder(decoder: str | None) -> str:
    name = decoder or DEFAULT_DECODER
    if name is None:
        raise RuntimeError("no video decoder: install PyAV ('pip install av') or OpenCV ('pip install opencv-python-headless')")
    if name not in _MODULES:
        raise ValueError(f"unknown decoder {name!r}; use one of {', '.join(_MODULES)}")
    if not _importable(_MODULES[name]):
        raise RuntimeError(f"decoder {name!r} needs the Python module {_MODULES[name]!r}, which is not installed")
    return name


def decode_shard(path: Path, frames: int, rows: int, columns: int, decoder: str | None = None) -> np.ndarray:
    """All ``frames`` pictures of the shard at ``path`` as one (frames, rows, columns) uint8 array."""
    pictures = np.empty((frames, rows, columns), dtype=np.uint8)
    reader = _pyav_pictures if resolve_decoder(decoder) == PYAV else _opencv_pictures
    count = 0
    for picture in reader(path):
        if count == frames:
            raise ValueError(f"{path} holds more than the {frames} pictures its manifest lists")
        if picture.shape != (rows, columns):
            raise ValueError(f"{path}: picture {count} is {picture.shape}, the manifest says {(rows, columns)}")
        pictures[count] = picture
        count += 1
    if count != frames:
        raise ValueError(f"{path} holds {count} pictures, its manifest lists {frames}")
    return pictures


def _pyav_pictures(path: Path):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            plane = frame.planes[0]
            yield np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


def _opencv_pictures(path: Path):
    import cv2

    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise ValueError(f"OpenCV cannot open {path}")
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield image[:, :, 0] if image.ndim == 3 else image
    finally:
        capture.release()
