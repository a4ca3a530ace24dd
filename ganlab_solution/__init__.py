"""ganlab_solution: the reference implementation of the ganlab DCGAN lab (the instructor's and the grader's).

It builds on the student package ``ganlab`` and adds what students write themselves:
the answers of every exercise, the hidden checks, the metrics and the scaling track.

Modules, in lab order: :mod:`.data`, :mod:`.models`, :mod:`.losses`, :mod:`.steps`,
:mod:`.export`, :mod:`.generate`; :data:`ganlab.exercises.EXERCISES` says which object answers
which exercise, and :mod:`.notebooks` writes them into the source notebooks.
"""

from __future__ import annotations

from ganlab.errors import GanlabError

__version__ = "0.1.0"
__all__ = ["GanlabError"]
