"""``python -m ganlab_solution animate RUN_DIR [-o evolution.gif]``: a looping GIF of a run's sample grids
(``RUN_DIR/samples/epoch_*.png``), each frame labelled with its epoch: how the generator learned.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ganlab.cliargs import bounded
from ganlab.errors import GanlabError
from ganlab.files import atomic_write

FRAME = re.compile(r"epoch_(\d+)\.png")
# GIF frame delays are in hundredths of a second and viewers slow down delays under 2.
MAX_FPS = 50.0


def animate(run_dir: str | Path, out: str | Path | None = None, fps: float = 4.0, every: int = 1) -> Path:
    """Write the GIF of ``run_dir``'s sample grids (every ``every``-th epoch); returns its path."""
    from PIL import Image, ImageDraw

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GanlabError(f"no samples/epoch_*.png in {run_dir} (no such folder): pass the folder of a training run")
    if not (1 <= every and 0 < fps <= MAX_FPS):
        raise GanlabError(f"every {every}, fps {fps}: every must be at least 1 and fps in (0, {MAX_FPS}]")
    # Only the trainer's own names: a stray file such as samples/epoch_best.png is ignored.
    epochs = {int(m[1]): p for p in (run_dir / "samples").glob("epoch_*.png") if (m := FRAME.fullmatch(p.name))}
    order = sorted(epochs)
    if not order:
        raise GanlabError(f"no samples/epoch_*.png in {run_dir}: pass the folder of a training run")
    frames = []
    for epoch in dict.fromkeys([*order[::every], order[-1]]):  # the last epoch is always kept
        path = epochs[epoch]
        try:
            with Image.open(path) as image:
                frame = image.convert("RGB")
        except Exception as exc:  # any decoder's failure
            raise GanlabError(
                f"{path} cannot be read as an image ({type(exc).__name__}): delete it or restore it"
            ) from None
        canvas = Image.new("RGB", (frame.width, frame.height + 14), "white")
        canvas.paste(frame, (0, 14))
        ImageDraw.Draw(canvas).text((2, 1), f"epoch {epoch}", fill="black")
        frames.append(canvas.quantize(colors=256))
    out = Path(out) if out else run_dir / "evolution.gif"
    if out.suffix.lower() != ".gif":
        raise GanlabError(f"{out}: the animation is a GIF: give the output a .gif name")
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
    fps = bounded(float, 0.1, MAX_FPS, "a GIF cannot show frames faster than 50 per second")
    p.add_argument("--fps", type=fps, default=4.0, help="frames per second, 0.1 to 50 (default 4)")
    every = bounded(int, 1, 100_000, "1 keeps every epoch, k every k-th")
    p.add_argument("--every", type=every, default=1, help="keep every k-th epoch (the last is always kept)")
    p.set_defaults(handler=_run)
