"""DistributedDataParallel on gloo: two CPU processes train in step and only rank 0 writes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as multiprocessing
from training_data import make_prepared_set

from cmfr_codec.training.stages import load_stage, with_overrides

STEPS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _train_one_rank(rank: int, world_size: int, port: int, prepared: Path, output: Path) -> None:
    """One torchrun-like process: the environment torchrun would give it, then a short intra stage."""
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size))
    from cmfr_codec.models.codec import CmfrCodec
    from cmfr_codec.models.config import preset
    from cmfr_codec.training.distributed import join_process_group, leave_process_group
    from cmfr_codec.training.trainer import RunSettings, train_stage

    place = join_process_group("cpu")
    torch.manual_seed(100 + rank)  # different starting weights: DDP must broadcast rank 0's
    codec = CmfrCodec(preset("tiny"))
    stage = with_overrides(load_stage("intra"), steps=STEPS, batch=1, crop=64, log_every=1, validate_every=STEPS,
                           validation_clips=1)
    settings = RunSettings(data=prepared, output=output, seed=1, workers=0, place=place, report=lambda message: None)
    try:
        train_stage(codec, stage, settings)
    finally:
        leave_process_group()
    torch.save({key: value.detach() for key, value in codec.state_dict().items()}, output.parent / f"rank{rank}.pt")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ddp")
    prepared = make_prepared_set(folder)
    multiprocessing.spawn(_train_one_rank, args=(2, _free_port(), prepared, folder / "run"), nprocs=2, join=True)
    return folder


def test_two_gloo_processes_end_with_the_same_weights(trained: Path):
    ranks = [torch.load(trained / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    assert all(torch.equal(ranks[0][key], ranks[1][key]) for key in ranks[0])
    checkpoint = torch.load(trained / "run" / "intra" / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == STEPS


def test_only_rank_0_writes_the_log_and_it_has_every_step(trained: Path):
    from cmfr_codec.training.trainer import read_log

    assert [row["step"] for row in read_log(trained / "run" / "intra" / "train.csv")] == [1, 2, 3]
    assert (trained / "run" / "intra" / "tiny.intra.cmfrw").is_file()
