"""Weights files: finding them, identifying them by digest, saving and loading a model.

A model is two files, ``NAME.intra.cmfrw`` and ``NAME.inter.cmfrw`` (each well under 16 MiB),
written by :func:`save_weights`.  Each is a ``torch.save`` of plain data, read back with
``weights_only=True`` so a weights file cannot run code::

    {"format": "cmfr-weights", "version": 1, "part": "intra" | "inter",
     "config": ModelConfig.to_dict(), "state_dict": {...}}

A bitstream records the model's name and its digest, SHA-256 over the SHA-256 of the intra
file followed by that of the inter file, so a decoder refuses weights that would decode it to
noise.  Models are looked up by name in the package's ``models/weights`` folder, or given as
a path to either file of the pair.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cmfr_codec.atomic import AtomicOutput
from cmfr_codec.digests import file_sha256
from cmfr_codec.errors import InputError, ModelError

if TYPE_CHECKING:
    from cmfr_codec.models.codec import CmfrCodec

DEFAULT_MODEL = "cmfr-s"
WEIGHTS_SUFFIX = ".cmfrw"
PARTS = ("intra", "inter")
FORMAT_NAME = "cmfr-weights"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class WeightsFiles:
    """The two files of one model."""

    intra: Path
    inter: Path

    @property
    def stem(self) -> Path:
        """The pair's common path without the part and the suffix (``path/NAME``)."""
        return self.intra.with_name(self.intra.name[: -len(f".intra{WEIGHTS_SUFFIX}")])

    @cached_property
    def digest(self) -> bytes:
        """The model's identity as a bitstream records it (hashed once: decode checks it, then loads)."""
        return hashlib.sha256(file_sha256(self.intra) + file_sha256(self.inter)).digest()


@dataclass
class LoadedModel:
    """A model ready to code: the network on its device, its name, and the digest of its files."""

    codec: CmfrCodec
    name: str
    digest: bytes
    device: str


def installed_weights_dir() -> Path:
    """Where installed models live: ``cmfr_codec/models/weights`` (``models/weights`` in a checkout)."""
    import cmfr_codec.models

    return Path(cmfr_codec.models.__file__).resolve().parent / "weights"


def _pair(path: Path) -> WeightsFiles:
    name = path.name
    for part in PARTS:
        suffix = f".{part}{WEIGHTS_SUFFIX}"
        if name.endswith(suffix):
            stem = path.with_name(name[: -len(suffix)])
            return WeightsFiles(*(Path(f"{stem}.{other}{WEIGHTS_SUFFIX}") for other in PARTS))
    return WeightsFiles(*(Path(f"{path}.{part}{WEIGHTS_SUFFIX}") for part in PARTS))


def find_weights(model: str) -> WeightsFiles:
    """The weights files for ``--model``: an installed model name, or a path to either file of a pair
    (or their common stem, ``path/NAME``)."""
    looks_like_path = model.endswith(WEIGHTS_SUFFIX) or "/" in model or "\\" in model
    if looks_like_path:
        files = _pair(Path(model))
        for path in (files.intra, files.inter):
            if not path.is_file():
                raise InputError(f"no such weights file: {path}")
        return files
    files = _pair(installed_weights_dir() / model)
    if not (files.intra.is_file() and files.inter.is_file()):
        known = sorted(_pair(path).stem.name for path in installed_weights_dir().glob(f"*.intra{WEIGHTS_SUFFIX}"))
        raise ModelError(
            f"no model: no weights named {model!r} are installed (installed: {', '.join(known) or 'none'}); "
            f"pass --model PATH to a {WEIGHTS_SUFFIX} weights file"
        )
    return files


def save_weights(codec: CmfrCodec, stem: str | Path) -> WeightsFiles:
    """Write ``codec`` (a :class:`CmfrCodec`) as ``STEM.intra.cmfrw`` and ``STEM.inter.cmfrw``.

    Call ``codec.update_tables()`` first: the integer CDF tables are part of the weights.
    """
    import torch

    files = _pair(Path(stem))
    for part, path in zip(PARTS, (files.intra, files.inter), strict=True):
        network = getattr(codec, part)
        payload = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "part": part,
            "config": codec.config.to_dict(),
            "state_dict": {key: value.detach().cpu() for key, value in network.state_dict().items()},
        }
        with AtomicOutput(path) as output:
            torch.save(payload, output.temporary_path)
    return files


def read_part(path: Path, part: str) -> dict:
    """The checked contents of one weights file: ``format``, ``version``, ``part``, ``config``, ``state_dict``."""
    import torch

    try:
        payload = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means the same thing to the user
        raise ModelError(f"cannot read weights file {path}: {error}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise ModelError(f"{path} is not a cmfr weights file")
    if payload.get("version") != FORMAT_VERSION:
        raise ModelError(f"{path} has weights format version {payload.get('version')}; this build reads {FORMAT_VERSION}")
    if payload.get("part") != part:
        raise ModelError(f"{path} holds the {payload.get('part')} part, expected {part}")
    return payload


def load_model(files: WeightsFiles, device: str = "cpu", for_coding: bool = True) -> LoadedModel:
    """Build the network the files describe, load its weights and move it to ``device``.

    For coding the weights are kept channels-last, the layout coding runs fastest in
    (docs/performance.md): every convolution then hands its output on in that layout.  Training
    (``for_coding=False``) keeps torch's default layout: with channels-last weights, a training
    step of batch 4 at 192x192 corrupted the heap inside torch 2.13's CPU kernels (free(): invalid
    next size; tests/test_training.py keeps it from coming back).
    """
    import torch

    from cmfr_codec.models.codec import CmfrCodec
    from cmfr_codec.models.config import ModelConfig

    intra, inter = read_part(files.intra, "intra"), read_part(files.inter, "inter")
    if intra["config"] != inter["config"]:
        raise ModelError(f"{files.intra} and {files.inter} belong to different models")
    try:
        config = ModelConfig.from_dict(intra["config"])
    except ValueError as error:
        raise ModelError(f"{files.intra}: unusable model config: {error}") from None
    codec = CmfrCodec(config)
    try:
        codec.intra.load_state_dict(intra["state_dict"])
        codec.inter.load_state_dict(inter["state_dict"])
    except RuntimeError as error:
        raise ModelError(f"{files.intra}: weights do not fit the model they describe: {error}") from None
    codec.to(device, memory_format=torch.channels_last if for_coding else torch.contiguous_format).eval()
    return LoadedModel(codec=codec, name=config.name, digest=files.digest, device=device)


def check_weights_match(model: str, expected_digest: bytes) -> WeightsFiles:
    """The weights files for ``model``, refused unless they are the ones a bitstream was made with."""
    files = find_weights(model)
    actual = files.digest
    if actual != expected_digest:
        raise ModelError(
            f"wrong model: the bitstream was made with weights {expected_digest.hex()[:16]}..., "
            f"but {files.stem} has digest {actual.hex()[:16]}..."
        )
    return files
