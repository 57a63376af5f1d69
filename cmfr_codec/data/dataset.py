"""Training loaders: random crops of the prepared set as the codec's 6-channel YUV 4:2:0 tensors.

::

    manifest.json + shards --decode once (PyAV or OpenCV), check sha256--> uint8 pictures in memory
        --item: pick a clip or still, even-aligned crop, flips--> (T, 6, crop/2, crop/2) in [0, 1]

The tensor layout is the codec's (``cmfr_codec.models.layers.yuv420_to_tensor``): channels 0-3
are the luma phases (row, column) = (0,0), (0,1), (1,0), (1,1) of the crop, 4 is U and 5 is V,
all at half the luma resolution.  Crops start on even rows and columns, so luma and chroma stay
aligned.  A horizontal flip mirrors the planes before the phases are taken, which is a real
mirror image of the frame.

Every random choice comes from ``numpy.random.default_rng((seed, epoch, index))``: an item depends
only on the seed, the epoch (:meth:`set_epoch`) and its index, never on which DataLoader worker
draws it or in which order, so runs repeat exactly with any ``num_workers``.

The whole set is decoded once, when the dataset is built, and kept as uint8 (about 0.22 MB per
512x288 frame).  DataLoader workers started by ``fork`` (Linux's default) share that memory; a
dataset sent to ``spawn`` workers travels without its pictures and each worker decodes them on
first use.  This module imports neither PyAV nor the preparation code: numpy, torch and one of
PyAV or OpenCV are all it needs (see :mod:`~cmfr_codec.data.decoders`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cmfr_codec.data.decoders import decode_shard, resolve_decoder
from cmfr_codec.data.layout import MANIFEST_FORMAT, MANIFEST_NAME, tiled_shape, untile
from cmfr_codec.errors import InputError

DEFAULT_CROP = 256
TRAIN = "train"
VALIDATION = "validation"


def read_manifest(root: str | os.PathLike[str]) -> dict:
    """The manifest of the prepared set at ``root``; InputError when there is none or it is another format."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise InputError(f"{root} is not a prepared set: it has no {MANIFEST_NAME} (run 'cmfr data prepare')")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise InputError(f"{path} is not valid JSON: {error}") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{path} is format {manifest.get('format')!r}; this loader reads {MANIFEST_FORMAT!r}")
    return manifest


def planes_to_tensor(y: np.ndarray, u: np.ndarray, v: np.ndarray, as_uint8: bool = False) -> torch.Tensor:
    """(T, H, W) luma and (T, H/2, W/2) chroma planes -> (T, 6, H/2, W/2), in [0, 1] unless ``as_uint8``."""
    frames, height, width = y.shape
    stacked = np.empty((frames, 6, height // 2, width // 2), dtype=np.uint8)
    stacked[:, :4] = y.reshape(frames, height // 2, 2, width // 2, 2).transpose(0, 2, 4, 1, 3).reshape(frames, 4, height // 2, width // 2)
    stacked[:, 4], stacked[:, 5] = u, v
    if as_uint8:
        return torch.from_numpy(stacked)
    # numpy, not torch: in a process whose torch has several threads on a busy machine, a small
    # element-wise op can wait milliseconds on its thread pool.  The division is the one
    # yuv420_to_tensor does (IEEE float32), so the values are the codec's to the bit.
    return torch.from_numpy(np.divide(stacked, np.float32(255.0), dtype=np.float32))


class _PreparedPictures(Dataset):
    """Shared machinery of :class:`ClipDataset` and :class:`StillDataset`: shards, cache, crops, flips."""

    kind = ""

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str,
        crop: int | None,
        augment: bool,
        vertical_flips: bool,
        seed: int,
        repeats: int,
        decoder: str | None,
        as_uint8: bool,
        verify: bool,
    ):
        if split not in (TRAIN, VALIDATION):
            raise ValueError(f"split must be {TRAIN!r} or {VALIDATION!r}, got {split!r}")
        if repeats < 1:
            raise ValueError(f"repeats must be 1 or more, got {repeats}")
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        self.shards = [shard for shard in self.manifest["shards"] if shard["kind"] == self.kind and shard["split"] == split]
        if not self.shards:
            raise InputError(f"{root} has no {self.kind} in its {split} split")
        smallest = min(min(shard["width"], shard["height"]) for shard in self.shards)
        if crop is not None and (crop < 2 or crop % 2 or crop > smallest):
            raise ValueError(f"crop must be even and at most {smallest} (the smallest frame side here), got {crop}")
        self.split = split
        self.crop = crop
        self.augment = augment
        self.vertical_flips = vertical_flips
        self.seed = seed
        self.repeats = repeats
        self.decoder = resolve_decoder(decoder)
        self.as_uint8 = as_uint8
        self.verify = verify
        self.epoch = 0
        self._items = self._list_items()
        self._pictures: list[np.ndarray] | None = None

    def _list_items(self) -> list[tuple[int, int]]:
        raise NotImplementedError

    def load(self) -> None:
        """Decode every shard of the split into memory (once; checks each against its recorded sha256)."""
        if self._pictures is not None:
            return
        pictures = []
        for shard in self.shards:
            rows, columns = tiled_shape(shard["width"], shard["height"])
            decoded = decode_shard(self.root / shard["file"], shard["frames"], rows, columns, self.decoder)
            if self.verify and hashlib.sha256(decoded.tobytes()).hexdigest() != shard["decoded_sha256"]:
                raise InputError(
                    f"{self.root / shard['file']} decoded with {self.decoder} differs from what 'cmfr data prepare' "
                    "wrote (sha256 of the decoded pictures); the file is damaged or the decoder converts colours"
                )
            pictures.append(decoded)
        self._pictures = pictures

    def set_epoch(self, epoch: int) -> None:
        """Draw other crops and flips in this epoch (call before each epoch; workers must be restarted)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self._items) * self.repeats

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_pictures"] = None
        return state

    def _item(self, index: int) -> tuple[np.ndarray, np.random.Generator]:
        """The stored pictures of item ``index`` and its random generator."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} items")
        self.load()
        shard, first = self._items[index % len(self._items)]
        frames = self.shards[shard]["clip_frames"]
        return self._pictures[shard][first : first + frames], np.random.default_rng((self.seed, self.epoch, index))

    def _cropped(self, pictures: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        y, u, v = untile(pictures)
        height, width = y.shape[-2:]
        crop_height, crop_width = (height, width) if self.crop is None else (self.crop, self.crop)
        if self.augment:
            top = 2 * int(rng.integers(0, (height - crop_height) // 2 + 1))
            left = 2 * int(rng.integers(0, (width - crop_width) // 2 + 1))
        else:
            top, left = (height - crop_height) // 4 * 2, (width - crop_width) // 4 * 2
        y = y[:, top : top + crop_height, left : left + crop_width]
        u, v = (plane[:, top // 2 : (top + crop_height) // 2, left // 2 : (left + crop_width) // 2] for plane in (u, v))
        if self.augment and rng.random() < 0.5:
            y, u, v = y[:, :, ::-1], u[:, :, ::-1], v[:, :, ::-1]
        if self.augment and self.vertical_flips and rng.random() < 0.5:
            y, u, v = y[:, ::-1], u[:, ::-1], v[:, ::-1]
        return planes_to_tensor(y, u, v, self.as_uint8)


class ClipDataset(_PreparedPictures):
    """Clips of consecutive frames: item ``i`` is a (frames, 6, crop/2, crop/2) tensor.

    ``frames`` (default: the stored clip length) takes that many consecutive frames of a clip, from
    a random offset when ``augment``.  ``crop`` is the luma crop side (even; ``None``: whole frames,
    which differ in size between sources, so batch them one at a time).  With ``augment`` the crop
    position and a horizontal flip (and a vertical one, if ``vertical_flips``) are random;
    without it the crop is centred and nothing is flipped (for validation).  ``repeats`` makes an
    epoch visit every clip that many times, each with its own crop.  ``as_uint8`` returns the
    8-bit codes instead of [0, 1] floats (4x less to copy to the GPU; divide by 255 there).
    ``max_stride`` > 1 (with ``augment`` and ``frames`` > 1) takes every ``s``-th frame instead, ``s``
    drawn from 1..``max_stride`` (as far as the clip allows): s times the motion of consecutive
    frames, for training sets whose video moves little (docs/training.md).
    """

    kind = "clips"

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = TRAIN,
        frames: int | None = None,
        crop: int | None = DEFAULT_CROP,
        augment: bool = True,
        vertical_flips: bool = False,
        seed: int = 0,
        repeats: int = 1,
        decoder: str | None = None,
        as_uint8: bool = False,
        verify: bool = True,
        max_stride: int = 1,
    ):
        super().__init__(root, split, crop, augment, vertical_flips, seed, repeats, decoder, as_uint8, verify)
        stored = min(shard["clip_frames"] for shard in self.shards)
        self.frames = stored if frames is None else frames
        if not 1 <= self.frames <= stored:
            raise ValueError(f"frames must be 1..{stored} (the stored clip length), got {frames}")
        if max_stride < 1:
            raise ValueError(f"max_stride must be 1 or more, got {max_stride}")
        self.max_stride = max_stride
        self.load()

    def _list_items(self) -> list[tuple[int, int]]:
        return [
            (number, clip * shard["clip_frames"])
            for number, shard in enumerate(self.shards)
            for clip in range(shard["frames"] // shard["clip_frames"])
        ]

    def __getitem__(self, index: int) -> torch.Tensor:
        pictures, rng = self._item(index)
        stride = 1
        if self.augment and self.max_stride > 1 and self.frames > 1:  # no draw otherwise: the same crops as before
            stride = int(rng.integers(1, min(self.max_stride, (len(pictures) - 1) // (self.frames - 1)) + 1))
        span = (self.frames - 1) * stride + 1
        start = int(rng.integers(0, len(pictures) - span + 1)) if self.augment else 0
        return self._cropped(pictures[start : start + span : stride], rng)


class StillDataset(_PreparedPictures):
    """Still images (the photos) for the intra stage: item ``i`` is a (6, crop/2, crop/2) tensor.

    The options are :class:`ClipDataset`'s.  The photos are few, so ``repeats`` (default 16) sets
    how many random crops of each an epoch holds.  Frames of the videos serve the intra stage too:
    ``ClipDataset(root, frames=1)``.
    """

    kind = "stills"

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = TRAIN,
        crop: int | None = DEFAULT_CROP,
        augment: bool = True,
        vertical_flips: bool = False,
        seed: int = 0,
        repeats: int = 16,
        decoder: str | None = None,
        as_uint8: bool = False,
        verify: bool = True,
    ):
        super().__init__(root, split, crop, augment, vertical_flips, seed, repeats, decoder, as_uint8, verify)
        self.load()

    def _list_items(self) -> list[tuple[int, int]]:
        return [(number, frame) for number, shard in enumerate(self.shards) for frame in range(shard["frames"])]

    def __getitem__(self, index: int) -> torch.Tensor:
        pictures, rng = self._item(index)
        return self._cropped(pictures, rng)[0]
