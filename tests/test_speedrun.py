"""bench/speedrun.py at tiny settings on the CPU: where its clock stops and what it excludes (its whole run
with the real FID: tests/test_gpu_run.py's dry run)."""

from __future__ import annotations

import pytest
import torch

from ganlab_solution.trainer import Trainer

from .helpers import FASHION, bench_script, marked

speedrun = bench_script("speedrun")
trains = marked("dataset", "training")  # the real Fashion-MNIST, a few training steps
TINY = ["data.debug=true", "data.batch_size=8", "model.discriminator_base_c=4", "model.generator_base_c=8"]


class FakeTime:
    """A clock where each training step (Trainer.step, patched) takes 1 s and each evaluation 1000 s."""

    def __init__(self, fids: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
        self.t = 0.0
        self.fids = iter(fids)
        self.scored = 0
        step = Trainer.step

        def timed_step(trainer, real):
            self.t += 1.0
            return step(trainer, real)

        monkeypatch.setattr(Trainer, "step", timed_step)

    def now(self) -> float:
        return self.t

    def score(self, generator: torch.nn.Module) -> float:
        self.scored += 1
        self.t += 1000.0
        return next(self.fids)

    def run(self, *overrides: str, **options):
        """speedrun.run on the tiny recipe (and ``overrides``), target FID 15, timed by this clock."""
        clock = speedrun.TrainingClock(now=self.now)
        config, _ = speedrun.build_config([*TINY, *overrides], "cpu", str(FASHION))
        return speedrun.run(config, self.score, target=15.0, clock=clock, **options)


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch):
    return lambda fids: FakeTime(fids, monkeypatch)


@trains
def test_the_clock_stops_at_the_first_evaluation_at_or_under_the_target(fake_time):
    fake = fake_time([90.0, 40.0, 15.0, 3.0])
    result, trainer = fake.run(eval_every=3)
    # Third evaluation (FID exactly 15 counts), after 9 steps of 1 s; the 2000 s of the
    # two earlier evaluations are not training time.
    assert fake.scored == 3
    assert result.seconds_to_target == 9.0 == result.train_seconds
    assert [e.train_seconds for e in result.curve] == [3.0, 6.0, 9.0]
    assert [e.step for e in result.curve] == [3, 6, 9] and result.steps == 9
    assert result.stopped_by == "target"
    assert trainer.critic_updates == 9 and trainer.generator_updates == 9
    assert result.curve[1].epoch == pytest.approx(6 / len(trainer.loaders.train))
    assert "FID 15 reached after 9.00 s of training (step 9" in speedrun.describe(result)


@trains
def test_keep_going_trains_past_the_target_and_keeps_the_first_crossing(fake_time):
    fake = fake_time([20.0, 12.0, 30.0, 8.0, 7.0])
    result, _ = fake.run(eval_every=2, max_steps=8, keep_going=True)
    assert fake.scored == 4 and result.stopped_by == "steps"
    assert result.seconds_to_target == 4.0  # the first crossing, not the last evaluation
    assert result.train_seconds == 8.0


@trains
def test_a_training_time_budget_stops_a_run_that_never_reaches_the_target(fake_time):
    fake = fake_time([50.0] * 10)
    result, _ = fake.run(eval_every=2, max_train_seconds=5.0)
    assert result.seconds_to_target is None and result.stopped_by == "time"
    assert [e.train_seconds for e in result.curve] == [2.0, 4.0, 6.0]
    assert "NOT reached (best 50.00" in speedrun.describe(result)


@trains
def test_critic_steps_and_ema_follow_the_recipe(fake_time):
    fake = fake_time([99.0, 1.0])
    result, trainer = fake.run("optim.critic_steps=2", "optim.ema=0.5", eval_every=3)
    assert result.steps == 6 and trainer.critic_updates == 6 and trainer.generator_updates == 3
    ema = trainer.harness.ema.module.to_image[0].weight
    assert not torch.equal(ema, trainer.gan.generator.to_image[0].weight)  # an average, not a copy
    assert int(trainer.harness.ema.averaged.n_averaged) == 3


def test_cpu_runs_drop_the_gpu_options_and_say_so():
    config, dropped = speedrun.build_config(["optim.compile=true", "optim.ema=0.99"], "cpu", str(FASHION))
    assert set(dropped) == {"amp", "channels_last", "cuda_graph", "compile"}
    assert not (config.optim.amp or config.optim.cuda_graph or config.optim.compile)
    assert config.optim.ema == 0.99 and config.model.generator_base_c == 256  # the lab's widths by default
