"""CUDA-graph training steps on a GPU, skipped without one by tests/conftest.py (the CPU's refusal is a case of
tests/test_cli_errors.py)."""

from __future__ import annotations

import pytest
import torch

from ganlab.config import Config
from ganlab.cuda_graphs import GraphedStep
from ganlab_solution.trainer import Trainer

from .helpers import debug_config, marked


def _toy_training(graphed: bool) -> tuple[torch.nn.Module, list[float]]:
    """Ten Adam steps of a small regression on fixed batches (no randomness in a step)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, fused=True, capturable=True)
    data = torch.randn(10, 32, 9, generator=torch.Generator().manual_seed(1)).cuda()

    def step(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = torch.nn.functional.mse_loss(model(batch[:, :8]), batch[:, 8:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss}

    run = GraphedStep(step, warmup=2) if graphed else step
    losses = [run(batch)["loss"].item() for batch in data]
    if graphed:
        assert run.graph is not None, "the step was never captured"
    return model, losses


@pytest.mark.cuda
def test_graphed_step_trains_exactly_like_the_eager_step():
    eager_model, eager_losses = _toy_training(graphed=False)
    graphed_model, graphed_losses = _toy_training(graphed=True)
    # Steps 3 to 10 are replays: they must see each new batch and update the weights.
    assert len(set(graphed_losses)) == len(graphed_losses), f"a replay repeated a loss: {graphed_losses}"
    torch.testing.assert_close(graphed_losses, eager_losses, rtol=1e-5, atol=1e-6)
    for a, b in zip(graphed_model.parameters(), eager_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.cuda
def test_graphed_step_runs_a_batch_of_another_shape_eagerly():
    model = torch.nn.Linear(4, 1).cuda()
    calls = []

    def step(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        calls.append(batch.shape[0])
        return {"out": model(batch).sum()}

    run = GraphedStep(step, warmup=1)
    for _ in range(3):
        run(torch.ones(8, 4, device="cuda"))
    small = run(torch.ones(3, 4, device="cuda"))["out"]
    torch.testing.assert_close(small, model(torch.ones(3, 4, device="cuda")).sum())
    assert calls == [8, 8, 3], calls  # warm-up, capture, (replay: no Python), eager


@marked("cuda", "dataset", "training")
@pytest.mark.parametrize(
    ("sections", "frozen"),
    [
        # Mixed precision and channels-last; the EMA of the generator is updated outside the graph.
        ({"optim": {"amp": True, "channels_last": True, "ema": 0.9}}, set()),
        # A double backward inside the graph. The critic's output bias cancels out of
        # E[D(fake)] - E[D(real)] and of the penalty: its gradient is zero, eager or not.
        ({"optim": {"loss": "wgan-gp", "critic_steps": 2}}, {"discriminator.head.bias"}),
        # In-place power iterations of spectral normalisation inside the graph.
        ({"optim": {"loss": "hinge"}, "model": {"spectral_norm": True}}, set()),
    ],
    ids=["bce-amp-ema", "wgan-gp", "hinge-spectral-norm"],
)
def test_graphed_training_keeps_learning_and_writes_its_run(tmp_path, sections, frozen):
    sections = {**sections, "optim": {**sections["optim"], "nepochs": 2, "cuda_graph": True}}
    trainer = Trainer(Config.model_validate(debug_config(tmp_path, device="cuda", **sections)), quiet=True)
    ema = trainer.harness.ema

    def weights() -> dict[str, torch.Tensor]:
        return {**dict(trainer.gan.named_parameters()), **dict(ema.module.named_parameters("ema") if ema else {})}

    trainer.train_epoch()  # 8 batches: 3 warm-up steps, the capture, then replays (4 generator steps for wgan-gp)
    assert trainer._critic_update.graph is not None and trainer._generator_update.graph is not None
    before = {name: p.detach().clone() for name, p in weights().items()}
    metrics = trainer.train_epoch()  # replays only
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values()), metrics
    unchanged = {name for name, p in weights().items() if torch.equal(before[name], p)}
    assert unchanged == frozen, f"parameters the replays did not update: {sorted(unchanged)}"
    run_dir = trainer.fit()
    assert (run_dir / "checkpoint.pt").is_file() and (run_dir / "generator.onnx").is_file()
    assert all(torch.isfinite(p).all() for p in trainer.gan.parameters())
