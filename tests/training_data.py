"""A tiny prepared training set with a held-out split, built from the example clip (no downloads)."""

from __future__ import annotations

import shutil
from pathlib import Path

from test_data_prepare import SMALL, make_sources

from cmfr_codec.data.fetch import index_entry, write_index
from cmfr_codec.data.prepare import prepare


def make_prepared_set(folder: Path, train_stills: bool = True) -> Path:
    """``folder/prepared``: clips of 3 frames at 208x120, the test video for training and a copy held
    out, and (``train_stills``) one of its frames as a photo, a 208x120 still of the train split."""
    sources = make_sources(folder / "sources")
    held_out = shutil.copy(sources / "two_shots.mkv", sources / "held_out.mkv")
    entries = [
        index_entry(sources / "two_shots.mkv", kind="video", licence="CC0", origin="tests", split="train"),
        index_entry(Path(held_out), kind="video", licence="CC0", origin="tests", split="validation"),
    ]
    if train_stills:
        entries.append(index_entry(sources / "photo.png", kind="photo", licence="CC0", origin="tests", split="train"))
    write_index(sources, entries)
    prepare(sources, folder / "prepared", SMALL)
    return folder / "prepared"
