"""ganlab: the student package of the DCGAN lab.

Everything a student uses that is not an exercise: data loading (:mod:`.data`), image
grids and plots (:mod:`.grids`, :mod:`.plots`), the training engine (:mod:`.harness`, and
:mod:`.trainer` behind ``python -m ganlab train CONFIG --answers NOTEBOOKS``), run folders,
checkpoints and atomic writes (:mod:`.runfolder`, :mod:`.checkpoints`, :mod:`.files`), the
diagnostics and the shipped classifier's verdict (:mod:`.diagnostics`, :mod:`.classifier`),
the shipped pretrained generator (``assets/``), the declaration of the exercises
(:mod:`.exercises`), the earlier notebooks' answers (:mod:`.answers`) and the visible checks
(:mod:`.labcheck`).

No function or class a notebook asks a student to write is defined here: those are the
exercises, and their reference answers are the instructor's (``ganlab_solution``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import GanlabError

__version__ = "0.1.0"
__all__ = ["ASSETS", "GanlabError", "SHIPPED_GENERATOR"]

ASSETS = Path(str(files(__name__) / "assets"))
SHIPPED_GENERATOR = ASSETS / "fashionmnist_generator.onnx"  # the pretrained Fashion-MNIST generator
