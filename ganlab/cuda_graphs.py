"""Whole training steps captured as CUDA graphs (``optim.cuda_graph: true``).

At the lab's sizes a step is a few hundred small kernels, which cost more to launch from Python than to run;
a graph records them once and replays them with one launch (https://pytorch.org/docs/stable/notes/cuda.html).
What capture needs, and how the trainer provides it: the same addresses every replay (a static input batch,
``capturable=True`` optimizers); no host synchronisation inside (the EMA update stays outside); random numbers
from the CUDA generator (fresh at each replay); autocast's weight cache off (stale on replay).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Step = Callable[[torch.Tensor], dict[str, torch.Tensor]]


class GraphedStep:
    """Run ``step(batch)`` eagerly (on a side stream) for ``warmup`` calls, then capture it and replay it; a batch
    of another shape runs eagerly. The returned tensors are the graph's static outputs, which the next replay
    overwrites: consume them before the next call."""

    def __init__(self, step: Step, warmup: int = 3) -> None:
        self.step = step
        self.warmup = warmup
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_input: torch.Tensor | None = None
        self.static_output: dict[str, torch.Tensor] = {}

    def __call__(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        if self.graph is not None:
            assert self.static_input is not None
            if batch.shape != self.static_input.shape:
                return self.step(batch)
            self.static_input.copy_(batch)
            self.graph.replay()
            return self.static_output
        if self.calls <= self.warmup:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                output = self.step(batch)
            torch.cuda.current_stream().wait_stream(side)
            return output
        self.static_input = batch.clone()
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_output = self.step(self.static_input)
        self.graph.replay()
        return self.static_output
