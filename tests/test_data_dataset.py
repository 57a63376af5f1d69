"""The training loaders: the codec's tensor layout, crops and flips that repeat with a seed, any decoder."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from clips import REPO
from test_data_prepare import SMALL, make_sources
from torch.utils.data import DataLoader

from cmfr_codec.data.dataset import ClipDataset, StillDataset, planes_to_tensor
from cmfr_codec.data.layout import untile
from cmfr_codec.data.prepare import PrepareSettings, prepare
from cmfr_codec.errors import InputError
from cmfr_codec.models.layers import yuv420_to_tensor


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dataset")
    sources = make_sources(folder / "sources", photo_split="train")
    prepare(sources, folder / "prepared", PrepareSettings(**{**SMALL.__dict__, "still_size": 96}))
    return folder / "prepared"


def _reference(planes: tuple[np.ndarray, ...]) -> torch.Tensor:
    return yuv420_to_tensor(*(np.ascontiguousarray(plane) for plane in planes))[0]


def test_clips_are_frames_of_six_channel_half_resolution_tensors_in_0_1(root: Path):
    dataset = ClipDataset(root, crop=64)
    clip = dataset[0]
    assert len(dataset) == 6
    assert clip.shape == (3, 6, 32, 32) and clip.dtype == torch.float32
    assert 0.0 <= clip.min() and clip.max() <= 1.0
    assert ClipDataset(root, crop=64, as_uint8=True)[0].dtype == torch.uint8


def test_the_layout_is_the_codec_s_yuv420_to_tensor(root: Path):
    dataset = ClipDataset(root, crop=None, augment=False)
    stored = untile(dataset._pictures[0][0])
    torch.testing.assert_close(dataset[0][0], _reference(stored), rtol=0, atol=0)


def test_fewer_frames_than_stored_are_consecutive_frames_of_the_clip(root: Path):
    whole = ClipDataset(root, crop=None, augment=False)[2]
    assert torch.equal(ClipDataset(root, frames=2, crop=None, augment=False)[2], whole[:2])
    with pytest.raises(ValueError, match="frames must be 1..3"):
        ClipDataset(root, frames=4, crop=64)


def test_a_stride_takes_frames_further_apart(root: Path):
    whole = [ClipDataset(root, crop=None, augment=False, as_uint8=True)[index] for index in range(6)]
    strided = ClipDataset(root, frames=2, crop=None, max_stride=2, seed=5, as_uint8=True)
    gaps = set()
    for index in range(6):
        for epoch in range(4):
            strided.set_epoch(epoch)
            pair = strided[index][:, 4]  # the U plane, which a horizontal flip only mirrors
            for clip in (whole[index][:, 4], whole[index][:, 4].flip(-1)):
                positions = [next((number for number in range(3) if torch.equal(frame, clip[number])), None)
                             for frame in pair]
                if None not in positions:
                    gaps.add(positions[1] - positions[0])
                    break
            else:
                raise AssertionError(f"item {index}, epoch {epoch}: its frames are not frames of the clip")
    assert gaps == {1, 2}
    with pytest.raises(ValueError, match="max_stride"):
        ClipDataset(root, frames=2, crop=64, max_stride=0)


def test_crops_and_flips_repeat_with_the_seed_and_change_with_it(root: Path):
    first, again = ClipDataset(root, crop=64, seed=7), ClipDataset(root, crop=64, seed=7)
    other = ClipDataset(root, crop=64, seed=8)
    assert all(torch.equal(first[index], again[index]) for index in range(len(first)))
    assert any(not torch.equal(first[index], other[index]) for index in range(len(first)))
    first.set_epoch(1)
    assert any(not torch.equal(first[index], again[index]) for index in range(len(first)))


def test_crops_are_even_aligned_windows_of_the_frame(root: Path):
    dataset = ClipDataset(root, crop=64, seed=3)
    full = ClipDataset(root, crop=None, augment=False)
    for index in range(len(dataset)):
        crop, frame = dataset[index][0], full[index][0]
        windows = frame.unfold(1, 32, 1).unfold(2, 32, 1)  # (6, rows, columns, 32, 32) at half resolution
        mirrored = crop.flip(-1)[[1, 0, 3, 2, 4, 5]]
        assert any((windows == candidate[:, None, None]).all(dim=(0, 3, 4)).any() for candidate in (crop, mirrored))


def test_a_horizontal_flip_is_a_mirror_image_of_the_frame(root: Path):
    unflipped = ClipDataset(root, crop=None, augment=False)[0][0]
    stored = untile(ClipDataset(root, crop=None, augment=False)._pictures[0][0])
    mirror = _reference(tuple(plane[:, ::-1] for plane in stored))
    outcomes = {bool(torch.equal(ClipDataset(root, crop=None, seed=seed)[0][0], mirror)) for seed in range(12)}
    assert outcomes == {True, False}
    assert not torch.equal(unflipped, mirror)


def test_vertical_flips_happen_only_when_asked(root: Path):
    stored = untile(ClipDataset(root, crop=None, augment=False)._pictures[0][0])
    upside_down = [_reference(tuple(plane[::-1, columns] for plane in stored)) for columns in (slice(None), slice(None, None, -1))]

    def flipped_vertically(dataset_seed: int, vertical: bool) -> bool:
        frame = ClipDataset(root, crop=None, seed=dataset_seed, vertical_flips=vertical)[0][0]
        return any(torch.equal(frame, candidate) for candidate in upside_down)

    assert not any(flipped_vertically(seed, False) for seed in range(12))
    assert any(flipped_vertically(seed, True) for seed in range(12))


def test_bad_crops_are_refused(root: Path):
    for crop in (63, 0, 122):
        with pytest.raises(ValueError, match="crop must be even and at most 120"):
            ClipDataset(root, crop=crop)


def test_stills_are_single_frames_and_an_epoch_repeats_them(root: Path):
    stills = StillDataset(root, crop=64, repeats=5)
    assert len(stills) == 5
    assert stills[0].shape == (6, 32, 32)
    assert not torch.equal(stills[0], stills[1]), "each repeat draws its own crop"
    with pytest.raises(InputError, match="no stills in its validation split"):
        StillDataset(root, split="validation")


def test_dataloader_workers_give_the_batches_of_a_single_process(root: Path):
    dataset = ClipDataset(root, crop=64, seed=1, repeats=2)
    alone = list(DataLoader(dataset, batch_size=4, num_workers=0))
    with_workers = list(DataLoader(dataset, batch_size=4, num_workers=2))
    assert len(alone) == 3 and alone[0].shape == (4, 3, 6, 32, 32)
    assert all(torch.equal(a, b) for a, b in zip(alone, with_workers, strict=True))


def test_a_pickled_dataset_travels_without_pictures_and_decodes_them_again(root: Path):
    dataset = ClipDataset(root, crop=64)
    copy = pickle.loads(pickle.dumps(dataset))
    assert copy._pictures is None
    assert torch.equal(copy[4], dataset[4])


def test_opencv_decodes_the_shards_to_the_same_tensors(root: Path):
    pytest.importorskip("cv2")
    assert all(torch.equal(ClipDataset(root, crop=64, decoder="opencv")[i], ClipDataset(root, crop=64)[i]) for i in range(6))


def test_pictures_that_differ_from_what_prepare_wrote_are_refused(root: Path, tmp_path: Path):
    copy = tmp_path / "prepared"
    shutil.copytree(root, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["shards"][0]["decoded_sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="differs from what 'cmfr data prepare' wrote"):
        ClipDataset(copy, crop=64)


def test_a_folder_without_manifest_is_refused(tmp_path: Path):
    with pytest.raises(InputError, match="has no manifest.json"):
        ClipDataset(tmp_path)


def test_the_loader_imports_neither_pyav_nor_the_preparation_code():
    code = "import sys, cmfr_codec.data.dataset; print(sorted(m for m in ('av', 'cmfr_codec.data.prepare', 'cmfr_codec.io') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"


def test_planes_to_tensor_orders_the_luma_phases_like_pixel_unshuffle():
    luma = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    chroma = np.zeros((1, 2, 2), np.uint8)
    phases = planes_to_tensor(luma, chroma, chroma, as_uint8=True)[0, :4, 0, 0].tolist()
    assert phases == [0, 1, 4, 5]
