"""ganlab_solution: the reference implementation of the ganlab DCGAN lab, for instructors and graders.

On top of the student package ``ganlab``: every exercise's answer, in lab order :mod:`.data`, :mod:`.models`,
:mod:`.losses`, :mod:`.steps`, :mod:`.export`, :mod:`.generate` (:data:`ganlab.exercises.EXERCISES` says which
answers which exercise; :mod:`.notebooks` writes them into the source notebooks), the hidden checks, the
metrics and the scaling track.
"""

__version__ = "0.1.0"
