"""The lab's exercises, declared once.

Every exercise of the lab is one :class:`Exercise` row of :data:`EXERCISES`: its number, its
notebook, the names a student writes, the nbgrader cells that hold the answer and grade it,
its points, where the reference answer lives, which checks grade it and which book page
teaches it. Everything that lists exercises reads this table: the loader of earlier answers
(:mod:`ganlab.answers`), the reference's answer lookup and tripwire, the regeneration of the
source notebooks' solution blocks, the names test, the notebooks' points tables, the class
report and the LMS export, and the grading kit's package lists.

The table names where things are, never what an answer is: the student package holds no
answer (a test checks it).

To change an exercise, edit its notebook (prose and test cell), its reference (the object
``reference`` names), its checks (``hidden``) and its ``page``, then run
``python -m ganlab_solution.notebooks`` to write the reference into the notebook's answer cell.
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
    """One exercise of the lab.

    Attributes:
        number: as the notebook prints it, e.g. ``"2.3"``.
        notebook: the notebook's stem, e.g. ``"02_critic"``.
        title: one line, as the notebook's table of exercises says it.
        points: what the test cell (or the hand-graded cell) is worth.
        test_id: the grade id of the cell that grades it (the answer cell itself for questions).
        answer_id: the grade id of the answer cell (None for questions, whose cell is the answer).
        names: the names the answer cell defines (empty for questions and notebook-only answers).
        reference: ``module:name`` of the reference answer in the reference package, whose
            source is the notebook's answer cell (None where the answer lives in the notebook only).
        hidden: ``module:function`` of the reference's checks that the hidden tests call.
        page: the book page that teaches it.
        twin: whether the site's JavaScript twin (:data:`JS_TWIN`) implements it too.
    """

    number: str
    notebook: str
    title: str
    points: float
    test_id: str
    answer_id: str | None = None
    names: tuple[str, ...] = ()
    reference: str | None = None
    hidden: tuple[str, ...] = ()
    page: str = ""
    twin: bool = False

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
_LAB = "book/lab"

EXERCISES: tuple[Exercise, ...] = (
    _code("1.1", _DATA, "to_unit_range", 2, "data", "data:check_to_unit_range", f"{_LAB}/01_adversarial_game.md"),
    _code("1.2", _DATA, "to_display", 1, "data", "data:check_to_display", f"{_LAB}/01_adversarial_game.md"),
    Exercise(
        "1.3",
        _DATA,
        "where the course package maps pixels",
        1,
        "test_find_the_mapping",
        "find_the_mapping",
        page=f"{_LAB}/01_adversarial_game.md",
    ),
    Exercise("1.4", _DATA, "question: where pixels reach [-1, 1], and why", 2, "q_unit_range"),
    _code("2.1", _CRITIC, "conv_output_size", 1, "models", "", f"{_LAB}/02_critic.md"),
    _code(
        "2.2",
        _CRITIC,
        "CBlock",
        3,
        "models",
        "networks:check_block critic:cblock_variants",
        f"{_LAB}/02_critic.md",
        twin=True,
    ),
    _code(
        "2.3", _CRITIC, "Discriminator", 4, "models", "critic:check_discriminator", f"{_LAB}/02_critic.md", twin=True
    ),
    Exercise("2.4", _CRITIC, "question: why a stride-2 convolution downsamples", 2, "q_stride_downsample"),
    _code(
        "3.1",
        _GEN,
        "GBlock",
        3,
        "models",
        "networks:check_block generator:gblock_variants",
        f"{_LAB}/03_generator.md",
        twin=True,
    ),
    _code("3.2", _GEN, "Generator", 5, "models", "generator:check_generator", f"{_LAB}/03_generator.md", twin=True),
    _code(
        "4.1",
        _GAN,
        "GAN",
        2,
        "models",
        "gan:check_gan_forward",
        f"{_LAB}/04_stabilising.md",
        answer_id="gan_forward",
        title="`GAN.forward`",
        twin=True,
    ),
    _code(
        "4.2", _GAN, "smooth_targets", 2, "losses", "gan:check_smooth_targets", f"{_LAB}/04_stabilising.md", twin=True
    ),
    _code("4.3", _GAN, "critic_loss", 3, "losses", "gan:check_critic_loss", f"{_LAB}/04_stabilising.md", twin=True),
    _code(
        "4.4", _GAN, "generator_loss", 1, "losses", "gan:check_generator_loss", f"{_LAB}/04_stabilising.md", twin=True
    ),
    _code("4.5", _GAN, "make_optimizers", 2, "steps", "gan:check_optimizers", f"{_LAB}/05_training.md", twin=True),
    _code("4.6", _GAN, "critic_step", 3, "steps", "gan:check_critic_step", f"{_LAB}/05_training.md", twin=True),
    _code("4.7", _GAN, "generator_step", 2, "steps", "gan:check_generator_step", f"{_LAB}/05_training.md", twin=True),
    _code(
        "5.1", _TRAIN, "critic_accuracy", 2, "losses", "training:check_accuracy", f"{_LAB}/05_training.md", twin=True
    ),
    _code("5.2", _TRAIN, "export_generator", 3, "export", "training:check_export", f"{_LAB}/06_generation.md"),
    Exercise("5.3", _TRAIN, "question: why the critic's accuracy stays high", 2, "q_critic_accuracy"),
    _code(
        "6.1",
        _EXPLORE,
        "generate_images",
        1,
        "generate",
        "generation:check_generate_images",
        f"{_LAB}/06_generation.md",
    ),
    _code(
        "6.2", _EXPLORE, "line_latents", 2, "generate", "generation:check_line_latents", f"{_LAB}/07_interpolation.md"
    ),
    _code(
        "6.3", _EXPLORE, "plane_latents", 2, "generate", "generation:check_plane_latents", f"{_LAB}/07_interpolation.md"
    ),
    _code("7.1", _FURTHER, "hinge_critic_loss", 2, "losses", "", "book/going_further.md"),
    _code("7.2", _FURTHER, "hinge_generator_loss", 1, "losses", "", "book/going_further.md"),
)

NOTEBOOKS: tuple[str, ...] = tuple(dict.fromkeys(e.notebook for e in EXERCISES))


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
