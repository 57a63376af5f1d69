"""Process groups for DistributedDataParallel: torchrun's environment, NCCL on GPUs, gloo on CPUs.

A single process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) needs no launcher and no process group.
Under ``torchrun --nproc-per-node G [--nnodes N --rdzv-endpoint HOST:PORT]`` every process reads
its rank from the environment and takes GPU ``LOCAL_RANK``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class ProcessPlace:
    """Where this process stands: its rank among ``world_size`` processes and its torch device."""

    rank: int
    world_size: int
    device: str

    @property
    def is_main(self) -> bool:
        """Only the main process (rank 0) writes logs, checkpoints and weights."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def join_process_group(device: str) -> ProcessPlace:
    """Join torchrun's process group when launched by it; ``device`` is ``cpu`` or ``cuda``."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ProcessPlace(0, 1, device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return ProcessPlace(rank, world_size, device)


def leave_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(place: ProcessPlace) -> None:
    """Wait for every process (after rank 0 wrote something the others read, or before exiting)."""
    if place.distributed:
        dist.barrier()
