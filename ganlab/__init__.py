"""ganlab: the student package of the DCGAN lab: data, grids and plots, the training engine behind ``python -m
ganlab train CONFIG --answers NOTEBOOKS``, run folders, diagnostics, the shipped generator (``assets/``), the earlier
notebooks' answers and the visible checks. No function or class a notebook asks for is defined here: the reference
answers are in ``ganlab_solution``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import GanlabError

__version__ = "0.1.0"
__all__ = ["ASSETS", "GanlabError", "SHIPPED_GENERATOR"]

ASSETS = Path(str(files(__name__) / "assets"))
SHIPPED_GENERATOR = ASSETS / "fashionmnist_generator.onnx"  # the pretrained Fashion-MNIST generator
