"""nbgrader configuration of the ganlab course (run every nbgrader command from this folder; README.md)."""

import sys
from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader injects get_config)

HERE = Path(__file__).resolve().parent
# The kit's own preprocessors (safe_execute.py, feedback.py, guard.py) live next to this file.
KIT = HERE
sys.path.insert(0, str(KIT))

from feedback import HideHiddenTests  # noqa: E402
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from safe_execute import SafeExecute  # noqa: E402

c.CourseDirectory.course_id = "ganlab"
c.CourseDirectory.root = str(HERE)
# The source notebooks live in the repository's notebooks/ folder, so there is no copy to keep in step.
c.CourseDirectory.source_directory = "../notebooks"
c.CourseDirectory.db_url = f"sqlite:///{HERE / 'gradebook.db'}"
# Never copy caches or checkpoints into the release or the graded folders.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "logs", "runs", "*.onnx"]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# The heaviest graded cell (an ONNX export) takes seconds; an infinite loop costs one minute, then
# the kernel is interrupted and the rest of the notebook still runs.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# A student who deleted a test cell gets it back from the gradebook (and its points are still graded).
c.OverwriteCells.add_missing_cells = True
# Huge outputs (a print in a loop) are cut before they reach the gradebook and the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50

# nbgrader's default list, with SafeExecute (safe_execute.py) in place of Execute.
c.Autograde.autograde_preprocessors = [
    SafeExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# Every kernel runs in a bubblewrap sandbox (sandbox.py; README.md, "Isolation"); grading stops on a
# machine that cannot build one. Only set this to False knowingly: every report then says so.
c.SafeExecute.sandbox = True
# Limits per sandboxed kernel; the cell that exceeds one fails, not the grading:
# c.SafeExecute.memory_limit_gb = 8     # address space per process (MemoryError beyond; torch maps 4.4 GB)
# c.SafeExecute.scratch_mb = 512        # HOME, TMPDIR and the working folder (a tmpfs)
# c.SafeExecute.max_processes = 256     # processes and threads per kernel (as root too: its kernels are nobody)
# c.SafeExecute.cpu_seconds = 1800      # CPU time per process
# Without the sandbox only: c.SafeExecute.no_network = True needs root (a network namespace per kernel).

# Feedback shows each test's score and message, never the source of a hidden test (feedback.py).
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
