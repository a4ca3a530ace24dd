"""The lab's exercises, declared once: one :class:`Exercise` row of :data:`EXERCISES` each (number, notebook,
the names a student writes, nbgrader cells and points, reference answer, checks, book page), which everything that
lists exercises reads (the answers loader, the tripwire, the notebooks' solution blocks and points tables, the class
report, the grading kit). It names where things are, never what an answer is. To change an exercise, edit its
notebook, reference, checks (``hidden``) and ``page``, then run ``python -m ganlab_solution.notebooks``.
"""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE_PACKAGE = "ganlab_solution"
STUDENT_PACKAGE = "ganlab"
# The packages a graded kernel imports, and the ones that hold checks (the grading kit's lists).
COURSE_PACKAGES = (REFERENCE_PACKAGE, STUDENT_PACKAGE)
CHECK_PACKAGES = (f"{STUDENT_PACKAGE}.labcheck", f"{REFERENCE_PACKAGE}.labcheck")
# The JavaScript twin of the lab's networks and steps, which the site's training page runs.
JS_TWIN = "book/train_live_src/dcgan.js"


@dataclass(frozen=True)
class Exercise:
    """One exercise of the lab."""

    number: str  # as the notebook prints it, e.g. "2.3"
    notebook: str  # the notebook's stem, e.g. "02_critic"
    title: str  # one line, as the notebook's table of exercises says it
    points: float  # what the test cell (or the hand-graded cell) is worth
    test_id: str  # the grade id of the cell that grades it (the answer cell itself for questions)
    answer_id: str | None = None  # the grade id of the answer cell (None for questions: that cell is the answer)
    names: tuple[str, ...] = ()  # the names the answer cell defines (none for questions, notebook-only answers)
    # module:name of the reference answer, whose source is the answer cell (None: the answer lives in the notebook)
    reference: str | None = None
    hidden: tuple[str, ...] = ()  # module:function of the reference's checks that the hidden tests call
    page: str = ""  # the book page that teaches it
    twin: bool = False  # whether the site's JavaScript twin (JS_TWIN) implements it too
    # Where those checks run: True in the grader's own process, on what the answer returns when the kernel runs it
    # on the grader's inputs (autograder/judge.py), so that nothing done inside the kernel changes the verdict;
    # False in the kernel, by the test cell (they inspect the student's live objects: networks, optimizers).
    outside: bool = False
    # Earlier answers replaced in the kernel, while the grader calls this one, by stand-ins that are no answer
    # (ganlab.labcheck.remote.STAND_INS): a mistake in them costs no point here.
    stand_ins: tuple[str, ...] = ()
    # The notebook's objects the answer takes first, which only the kernel holds (its onnxruntime session): the
    # grader's calls pass the other arguments.
    kernel_args: tuple[str, ...] = ()
    # For an answer judged by its effects (a training step, an export): the trial the kernel runs on it
    # (ganlab.labcheck.remote.TRIALS), on objects it builds from the grader's recipe; what it observed comes back.
    trial: str = ""

    @property
    def manual(self) -> bool:
        """Graded by hand (a written answer), not by a test cell."""
        return self.answer_id is None

    @property
    def reference_module(self) -> str | None:
        """The reference package's module that defines the answer, e.g. ``"ganlab_solution.models"``."""
        return f"{REFERENCE_PACKAGE}.{self.reference.split(':')[0]}" if self.reference else None


def _code(
    number: str, notebook: str, name: str, points: float, reference: str, hidden: str, page: str, **kw
) -> Exercise:
    """An exercise whose answer is one object ``name`` of the reference module ``reference``."""
    answer_id = kw.pop("answer_id", name.lower())
    return Exercise(
        number,
        notebook,
        kw.pop("title", f"`{name}`"),
        points,
        f"test_{answer_id}",
        answer_id,
        (name,),
        f"{reference}:{name}",
        tuple(f"labcheck.{check}" for check in hidden.split()),
        page,
        **kw,
    )


_DATA, _CRITIC, _GEN, _GAN = "01_data", "02_critic", "03_generator", "04_gan_and_losses"
_TRAIN, _EXPLORE, _FURTHER = "05_training", "06_generation", "07_going_further"
# The book pages that teach the exercises.
_P1, _P2, _P3, _P4 = (
    f"book/lab/{page}.md" for page in ("01_adversarial_game", "02_critic", "03_generator", "04_stabilising")
)
_P5, _P6, _P7 = (f"book/lab/{page}.md" for page in ("05_training", "06_generation", "07_interpolation"))
_P8 = "book/going_further.md"

EXERCISES: tuple[Exercise, ...] = (
    _code("1.1", _DATA, "to_unit_range", 2, "data", "data:check_to_unit_range", _P1, outside=True),
    _code("1.2", _DATA, "to_display", 1, "data", "data:check_to_display", _P1, outside=True),
    Exercise(
        "1.3", _DATA, "where the course package maps pixels", 1, "test_find_the_mapping", "find_the_mapping", page=_P1
    ),
    Exercise("1.4", _DATA, "question: where pixels reach [-1, 1], and why", 2, "q_unit_range"),
    _code("2.1", _CRITIC, "conv_output_size", 1, "models", "critic:check_conv_output_size", _P2, outside=True),
    _code("2.2", _CRITIC, "CBlock", 3, "models", "networks:check_block critic:cblock_variants", _P2, twin=True),
    _code("2.3", _CRITIC, "Discriminator", 4, "models", "critic:check_discriminator", _P2, twin=True),
    Exercise("2.4", _CRITIC, "question: why a stride-2 convolution downsamples", 2, "q_stride_downsample"),
    _code("3.1", _GEN, "GBlock", 3, "models", "networks:check_block generator:gblock_variants", _P3, twin=True),
    _code("3.2", _GEN, "Generator", 5, "models", "generator:check_generator", _P3, twin=True),
    _code(
        "4.1",
        _GAN,
        "GAN",
        2,
        "models",
        "gan:check_gan_forward",
        _P4,
        answer_id="gan_forward",
        title="`GAN.forward`",
        twin=True,
    ),
    _code("4.2", _GAN, "smooth_targets", 2, "losses", "gan:check_smooth_targets", _P4, twin=True, outside=True),
    _code(
        "4.3",
        _GAN,
        "critic_loss",
        3,
        "losses",
        "gan:check_critic_loss",
        _P4,
        twin=True,
        outside=True,
        stand_ins=("smooth_targets",),
    ),
    _code("4.4", _GAN, "generator_loss", 1, "losses", "gan:check_generator_loss", _P4, twin=True, outside=True),
    _code("4.5", _GAN, "make_optimizers", 2, "steps", "gan:check_optimizers", _P5, twin=True),
    _code(
        "4.6",
        _GAN,
        "critic_step",
        3,
        "steps",
        "gan:check_critic_step",
        _P5,
        twin=True,
        outside=True,
        stand_ins=("critic_loss",),
        trial="step",
    ),
    _code(
        "4.7",
        _GAN,
        "generator_step",
        2,
        "steps",
        "gan:check_generator_step",
        _P5,
        twin=True,
        outside=True,
        stand_ins=("generator_loss",),
        trial="step",
    ),
    _code("5.1", _TRAIN, "critic_accuracy", 2, "losses", "training:check_accuracy", _P5, twin=True, outside=True),
    _code("5.2", _TRAIN, "export_generator", 3, "export", "training:check_export", _P6, outside=True, trial="export"),
    Exercise("5.3", _TRAIN, "question: why the critic's accuracy stays high", 2, "q_critic_accuracy"),
    _code(
        "6.1",
        _EXPLORE,
        "generate_images",
        1,
        "generate",
        "generation:check_generate_images",
        _P6,
        outside=True,
        kernel_args=("session",),
    ),
    _code("6.2", _EXPLORE, "line_latents", 2, "generate", "generation:check_line_latents", _P7, outside=True),
    _code("6.3", _EXPLORE, "plane_latents", 2, "generate", "generation:check_plane_latents", _P7, outside=True),
    _code(
        "7.1", _FURTHER, "hinge_critic_loss", 2, "losses", "going_further:check_hinge_critic_loss", _P8, outside=True
    ),
    _code(
        "7.2",
        _FURTHER,
        "hinge_generator_loss",
        1,
        "losses",
        "going_further:check_hinge_generator_loss",
        _P8,
        outside=True,
    ),
)

NOTEBOOKS: tuple[str, ...] = tuple(dict.fromkeys(e.notebook for e in EXERCISES))
# The notebooks that, graded, run reference answers in place of earlier ones (load_answers, labcheck.isolated).
RUN_REFERENCE_ANSWERS = ("02_critic", "03_generator", "04_gan_and_losses", "05_training", "07_going_further")


def reference_in_kernel(notebook: str) -> bool:
    """Whether the graded kernel of ``notebook`` may import the reference package: it runs reference answers, or
    judges an exercise in the kernel against the reference. The sandbox hides the package from the others."""
    return notebook in RUN_REFERENCE_ANSWERS or any(e.hidden and not e.outside for e in of_notebook(notebook))


def grade_id(cell: dict) -> str | None:
    """The nbgrader grade id of a notebook cell (a dict as nbformat or json reads it), None for an ungraded one."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def of_notebook(notebook: str) -> list[Exercise]:
    """The exercises of ``notebook`` (a stem such as ``"02_critic"``), in order."""
    return [e for e in EXERCISES if e.notebook == notebook]


def answer_names(notebook: str) -> dict[str, str]:
    """``{answer name: exercise number}`` of ``notebook``."""
    return {name: e.number for e in of_notebook(notebook) for name in e.names}


def exercise_of(name: str) -> Exercise:
    """The exercise whose answer is called ``name`` (e.g. ``"Discriminator"``)."""
    for exercise in EXERCISES:
        if name in exercise.names:
            return exercise
    raise KeyError(f"{name!r} is not an answer of any notebook of the lab")


def max_points(notebook: str | None = None) -> float:
    """The points of ``notebook`` (of the whole lab when None), hand-graded questions included."""
    return sum(e.points for e in EXERCISES if notebook is None or e.notebook == notebook)
