"""The training-evolution GIF (its command: tests/test_cli_errors.py)."""

from __future__ import annotations

from PIL import Image

from ganlab_solution.animate import animate


def fake_run(tmp_path, epochs):
    samples = tmp_path / "run" / "samples"
    samples.mkdir(parents=True)
    for epoch in epochs:
        Image.new("L", (62, 62), epoch * 20).save(samples / f"epoch_{epoch:03d}.png")
    return samples.parent


def test_gif_has_one_frame_per_epoch_in_order(tmp_path):
    run = fake_run(tmp_path, [1, 2, 10, 3])  # epoch 10 sorts after 3 numerically
    gif = Image.open(animate(run))
    assert gif.n_frames == 4 and gif.size == (62, 76)
    greys = []
    for i in range(4):
        gif.seek(i)
        greys.append(gif.convert("L").getpixel((30, 50)))
    assert greys == sorted(greys)


def test_every_keeps_the_last_epoch(tmp_path):
    run = fake_run(tmp_path, range(1, 9))
    assert Image.open(animate(run, tmp_path / "a.gif", every=3)).n_frames == 4  # 1, 4, 7 and the last, 8
