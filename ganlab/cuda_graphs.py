"""Whole training steps captured as CUDA graphs (``optim.cuda_graph: true``).

At the lab's image sizes one training step is a few hundred small kernels, and on a
fast GPU launching them from Python costs more than running them. A CUDA graph
records the step's kernels once (forward, backward, loss and the optimizer update)
and replays them with one launch per batch. See the PyTorch notes on CUDA graphs:
https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs

What the step needs to be capturable, and how the trainer provides it:

* the same tensor addresses every replay: the batch is copied into a static input,
  and the optimizers are built with ``capturable=True`` (their step counters live
  on the GPU);
* no host synchronisation inside the step (no ``.item()``, no Python branch on a
  tensor's value): the EMA update, which has one, stays outside the graph;
* random numbers (latents, dropout, instance noise, label smoothing) come from
  the CUDA generator, which graphs support: each replay draws fresh values;
* autocast's weight cache is off, since cached casts would be stale on replay.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Step = Callable[[torch.Tensor], dict[str, torch.Tensor]]


class GraphedStep:
    """Run ``step(batch)`` eagerly for ``warmup`` calls, then capture it and replay it.

    The warm-up calls are real training steps; they run on a side stream, as the
    capture requires (it lets autograd and cuDNN set up their state first). The
    capture itself does not execute the step, so the call that captures then
    replays once. A batch whose shape differs from the captured one (the last,
    smaller batch of a streamed dataset) runs eagerly: correct, just not faster.

    The returned tensors are the graph's static outputs: the next replay overwrites
    them, so consume them (e.g. add them to running sums) before the next call.
    """

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
