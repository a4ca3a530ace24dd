"""A GIF of a run's fixed-noise sample grids across epochs: how the generator learned.

``python -m ganlab_solution animate RUN_DIR [-o evolution.gif]`` reads
``RUN_DIR/samples/epoch_*.png`` (written by the trainer every epoch) in epoch order,
labels each frame with its epoch, and writes one looping GIF.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import GanlabError
from .export import atomic_write


def animate(run_dir: str | Path, out: str | Path | None = None, fps: float = 4.0, every: int = 1) -> Path:
    """Write the GIF of ``run_dir``'s sample grids (every ``every``-th epoch); returns its path."""
    from PIL import Image, ImageDraw

    run_dir = Path(run_dir)
    frames_paths = sorted((run_dir / "samples").glob("epoch_*.png"), key=lambda p: int(p.stem.split("_")[1]))
    if not frames_paths:
        raise GanlabError(f"no samples/epoch_*.png in {run_dir}: pass the folder of a training run")
    frames_paths = (
        frames_paths[::every]
        if frames_paths[::every][-1] == frames_paths[-1]
        else [*frames_paths[::every], frames_paths[-1]]
    )
    frames = []
    for path in frames_paths:
        with Image.open(path) as image:
            frame = image.convert("RGB")
        canvas = Image.new("RGB", (frame.width, frame.height + 14), "white")
        canvas.paste(frame, (0, 14))
        ImageDraw.Draw(canvas).text((2, 1), f"epoch {int(path.stem.split('_')[1])}", fill="black")
        frames.append(canvas.quantize(colors=256))
    out = Path(out) if out else run_dir / "evolution.gif"
    duration = round(1000 / fps)
    # Hold the last frame longer so the final result can be seen.
    durations = [duration] * (len(frames) - 1) + [duration * 6]

    def write(tmp: Path) -> None:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)

    atomic_write(out, write)
    return out


def _run(args: argparse.Namespace) -> None:
    print(animate(args.run_dir, args.output, args.fps, args.every))


def add_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``python -m ganlab_solution animate``."""
    p = subparsers.add_parser("animate", help="GIF of a run's sample grids across epochs")
    p.add_argument("run_dir", help="a training run folder (holds samples/epoch_NNN.png)")
    p.add_argument("-o", "--output", help="output .gif (default RUN_DIR/evolution.gif)")
    p.add_argument("--fps", type=float, default=4.0, help="frames per second (default 4)")
    p.add_argument("--every", type=int, default=1, help="keep every k-th epoch (the last is always kept)")
    p.set_defaults(handler=_run)
