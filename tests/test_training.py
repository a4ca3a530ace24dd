"""The trainer: a debug epoch on the real Fashion-MNIST; its steps, options and run folders on a small
random set (about code paths: nothing is learnt there). Kill and resume: tests/test_student_run.py."""

from __future__ import annotations

import subprocess

import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from ganlab.config import parse_config
from ganlab_solution.trainer import Trainer, train

from .helpers import ROOT, TINY_MODEL, debug_config


@pytest.mark.dataset
@pytest.mark.training
def test_one_debug_epoch_writes_every_output(tmp_path):
    run_dir = train(parse_config(debug_config(tmp_path)), quiet=True)
    assert run_dir.parent == tmp_path / "logs"
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.yaml", "checkpoint.pt", "generator.onnx", "samples"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    grid = Image.open(run_dir / "samples" / "epoch_001.png")
    assert grid.size == (8 * 30 + 2, 8 * 30 + 2)  # 8x8 images of 28 px with 2 px padding
    events = EventAccumulator(str(run_dir)).Reload()
    scalars = set("critic_loss generator_loss critic_acc_real critic_acc_fake valid_acc_real valid_acc_fake".split())
    assert scalars <= set(events.Tags()["scalars"]) and "samples" in events.Tags()["images"]
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    assert checkpoint["epoch"] == 1
    assert {"gan", "optimizers", "rng", "config", "fixed_noise"} <= set(checkpoint)
    assert set(checkpoint["optimizers"]) == {"critic", "generator"}
    assert not list(run_dir.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_each_run_gets_a_new_folder(tmp_path, fake_fashion):
    config = parse_config(debug_config(tmp_path, rootdir=fake_fashion))
    a, b = Trainer(config, quiet=True).run_dir, Trainer(config, quiet=True).run_dir
    assert a != b and a.is_dir() and b.is_dir()


def test_each_step_updates_only_its_network(tmp_path, fake_fashion):
    trainer = Trainer(parse_config(debug_config(tmp_path, rootdir=fake_fashion)), quiet=True)
    critic, generator = trainer.gan.discriminator, trainer.gan.generator

    def unchanged(module, before):
        return [torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True)]

    critic_before, generator_before = ([p.clone() for p in m.parameters()] for m in (critic, generator))
    trainer.update_critic(next(iter(trainer.loaders.train)))
    assert all(p.grad is None for p in generator.parameters())
    assert all(unchanged(generator, generator_before)) and not all(unchanged(critic, critic_before))
    critic_before = [p.clone() for p in critic.parameters()]
    critic.zero_grad(set_to_none=True)
    trainer.update_generator(16)
    assert all(p.grad is None for p in critic.parameters())
    assert all(p.grad is not None for p in generator.parameters())
    assert all(unchanged(critic, critic_before))
    assert all(p.requires_grad for p in critic.parameters())  # switched back on


def test_sample_grid_leaves_the_generator_in_its_mode(tmp_path, fake_fashion):
    # Without EMA the grid comes from the generator being trained: a loop that draws grids
    # between steps (notebook 5) must go on training it with batch statistics.
    trainer = Trainer(parse_config(debug_config(tmp_path, rootdir=fake_fashion, optim={"ema": 0.0})), quiet=True)
    trainer.gan.train()
    assert trainer.harness.sample_grid().shape[0] == 3
    assert trainer.gan.generator.training


def test_weight_decay_uses_adamw_for_the_critic(tmp_path, fake_fashion):
    trainer = Trainer(parse_config(debug_config(tmp_path, rootdir=fake_fashion, optim={"wdecay": 1e-4})), quiet=True)
    assert isinstance(trainer.critic_opt, torch.optim.AdamW) and type(trainer.gen_opt) is torch.optim.Adam
    assert trainer.critic_opt.defaults["betas"] == (0.5, 0.999)


@pytest.mark.training
def test_run_dir_option_starts_then_resumes(tmp_path, fake_fashion):
    run_dir = tmp_path / "runs" / "job"
    raw = debug_config(tmp_path, rootdir=fake_fashion, logging={"onnx_every": 0}, model=TINY_MODEL)
    assert train(parse_config(raw), quiet=True, run_dir=run_dir) == run_dir
    raw["optim"]["nepochs"] = 2
    assert train(parse_config(raw), quiet=True, run_dir=run_dir) == run_dir  # a requeued job
    assert torch.load(run_dir / "checkpoint.pt", weights_only=False)["epoch"] == 2


@pytest.mark.parametrize(
    "name, needs",
    [
        ("train.sbatch", ["--run-dir", "torchrun"]),  # the instructor's, on several GPUs
        ("student_train.sbatch", ["--gres=gpu:1", "configs/fashionmnist.yaml", "python -m ganlab train", "--answers"]),
    ],
)
def test_slurm_templates_are_valid_bash_and_resume_by_run_dir(name, needs):
    script = ROOT / "slurm" / name
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text()
    assert all(word in text for word in ["--requeue", '--run-dir "$RUN_DIR"', *needs])


def test_critic_steps_count_across_epochs(tmp_path, fake_fashion):
    # 8 batches per epoch and 5 critic updates per generator update: the per-epoch count
    # never reached 5 twice in one epoch and restarted, so the generator trained once per epoch.
    raw = debug_config(tmp_path, rootdir=fake_fashion, optim={"critic_steps": 5, "nepochs": 2}, model=TINY_MODEL)
    trainer = Trainer(parse_config(raw), quiet=True)
    for _ in range(2):
        trainer.train_epoch()
        trainer.epoch += 1
    assert (trainer.critic_updates, trainer.generator_updates) == (16, 3)
    assert trainer.checkpoint()["generator_updates"] == 3


def test_an_untrained_generator_is_never_exported(tmp_path, fake_fashion):
    trainer = Trainer(parse_config(debug_config(tmp_path, rootdir=fake_fashion, model=TINY_MODEL)), quiet=True)
    trainer.epoch = 1
    trainer.writer = SummaryWriter(str(trainer.run_dir))
    with pytest.warns(UserWarning, match="the generator has not been updated yet, no ONNX written"):
        trainer.save_epoch_outputs({})
    trainer.writer.close()
    assert (trainer.run_dir / "checkpoint.pt").is_file() and not (trainer.run_dir / "generator.onnx").exists()
