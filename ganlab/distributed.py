"""Data-parallel training with ``torchrun``: rank bookkeeping in one place. :func:`setup` reads ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` and starts the process group (NCCL on GPUs, gloo on CPUs); rank 0 writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job; a single process is rank 0 of 1."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_main_process() -> bool:
    """Rank 0 of a ``torchrun`` job, or a single process, read before the process group exists."""
    return os.environ.get("RANK", "0") == "0"


def setup(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the ``torchrun`` job if there is one; returns the info and this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistInfo(), device
    info = DistInfo(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world_size)
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return info, device


def broadcast_object(value: Any, info: DistInfo) -> Any:
    """Rank 0's ``value`` on every rank (e.g. the run folder that rank 0 created)."""
    if not info.enabled:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def parameters_agree(module: torch.nn.Module, info: DistInfo) -> bool:
    """True when every rank holds the same weights (checks one sum per tensor)."""
    if not info.enabled:
        return True
    # NCCL gathers GPU tensors, gloo CPU ones.
    device = next(module.parameters()).device if dist.get_backend() == "nccl" else torch.device("cpu")
    sums = torch.stack([p.detach().double().sum() for p in module.parameters()]).to(device)
    gathered = [torch.empty_like(sums) for _ in range(info.world_size)]
    dist.all_gather(gathered, sums)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def cleanup(info: DistInfo) -> None:
    """Leave the process group."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
