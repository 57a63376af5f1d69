"""Finding a model's weights file and identifying it by digest.

A bitstream names the model it was made with and the SHA-256 digest of its weights file, so a
decoder can refuse weights that would decode it to noise.  Models are looked up by name in the
package's ``models/weights`` folder, or given as a path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cmfr_codec.errors import InputError, ModelError

DEFAULT_MODEL = "cmfr-s"
WEIGHTS_SUFFIX = ".cmfrw"
PACKAGED_WEIGHTS_DIR = Path(__file__).resolve().parent / "models" / "weights"


def weights_digest(path: str | Path) -> bytes:
    """SHA-256 of a weights file, the identity a bitstream records."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def _packaged_weights_dir() -> Path:
    # Installed, cmfr_codec.models lives inside the package; in a source checkout it is the top-level models/.
    if PACKAGED_WEIGHTS_DIR.is_dir():
        return PACKAGED_WEIGHTS_DIR
    return Path(__file__).resolve().parent.parent / "models" / "weights"


def find_weights(model: str) -> Path:
    """The weights file for ``--model``: an existing path, or a model name installed with the package."""
    candidate = Path(model)
    if candidate.suffix == WEIGHTS_SUFFIX or "/" in model or "\\" in model:
        if not candidate.is_file():
            raise InputError(f"no such weights file: {model}")
        return candidate
    installed = _packaged_weights_dir() / f"{model}{WEIGHTS_SUFFIX}"
    if not installed.is_file():
        raise ModelError(
            f"no model: no weights named {model!r} are installed (looked for {installed}); "
            f"pass --model PATH to a {WEIGHTS_SUFFIX} weights file"
        )
    return installed


def load_codec(model: str, device: str):
    """Load the named model onto ``device``.

    This build ships the container, entropy coding, video I/O and metrics; the CMFR networks
    are not part of it yet, so there is nothing to load weights into.
    """
    path = find_weights(model)
    raise ModelError(f"no model: this build has no CMFR networks to load {path} into")


def check_weights_match(model: str, expected_digest: bytes) -> Path:
    """The weights file for ``model``, refused unless it is the one a bitstream was made with."""
    path = find_weights(model)
    actual = weights_digest(path)
    if actual != expected_digest:
        raise ModelError(
            f"wrong model: the bitstream was made with weights {expected_digest.hex()[:16]}..., "
            f"but {path} has digest {actual.hex()[:16]}..."
        )
    return path
