"""SHA-256 of files, read in blocks: weights files name a model by it, and the training data
fetcher checks every extracted source against it."""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1 << 20


def file_sha256(path: Path) -> bytes:
    """The SHA-256 digest of the file at ``path``, without holding the file in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.digest()
