"""Command line of the student package: ``python -m ganlab train CONFIG --answers NOTEBOOKS`` trains your own GAN
with the answers in your notebooks' folder (remembered in ``RUN_DIR/answers.txt`` for ``--resume``), through the
instructor's engine (:mod:`ganlab.trainer`); a missing or failing answer stops it before anything is written, with
one ``error:`` line naming the notebook and exercise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cliargs import OneLineParser, add_train_command, run_command, train_command
from .errors import GanlabError

PROG = "python -m ganlab"


def _answers_folder(args: argparse.Namespace) -> Path:
    """``--answers``, or the folder a resumed run was started with."""
    from .trainer import ANSWERS_FILE

    if args.answers:
        folder = Path(args.answers).resolve()
    else:
        run_dir = args.resume or args.run_dir
        remembered = Path(run_dir) / ANSWERS_FILE if run_dir else None
        if remembered is None or not remembered.is_file():
            raise GanlabError("train needs --answers FOLDER: the folder of your lab notebooks (01_data.ipynb ...)")
        folder = Path(remembered.read_text().strip())
    if not folder.is_dir():
        raise GanlabError(f"the answers folder {folder} is not a folder: pass --answers with your notebooks' folder")
    return folder


def _train(args: argparse.Namespace) -> None:
    from .answers import AnswerMissing, collect_answers
    from .config import Config, load_config
    from .trainer import STUDENT_COMMAND, answer_names

    folder = _answers_folder(args)

    def answers(run_dir: Path | None) -> dict[str, Any]:
        saved = run_dir / "config.yaml" if run_dir is not None else None
        if args.config:
            config = load_config(args.config)
        else:
            config = load_config(saved) if saved is not None and saved.is_file() else Config()
        try:
            return collect_answers(folder, answer_names(config))
        except AnswerMissing as exc:
            raise GanlabError(str(exc)) from None

    train_command(args, answers, command=STUDENT_COMMAND, answers_from=folder)


def build_parser() -> argparse.ArgumentParser:
    """``python -m ganlab train``."""
    parser = OneLineParser(prog=PROG, description="Train your own DCGAN from a config, with your lab answers.")
    parser.add_argument("--debug", action="store_true", help="print the traceback of errors (or set GANLAB_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = add_train_command(sub, _train)
    train.add_argument(
        "--answers",
        metavar="FOLDER",
        help="the folder of your lab notebooks (default with --resume: the one the run was started with)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit status (see :mod:`ganlab.errors`)."""
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
