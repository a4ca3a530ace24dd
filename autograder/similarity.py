"""Pairs of students whose answers to one exercise are suspiciously alike (copydetect's winnowing).

What every student received is boilerplate, removed before comparing; answers as close to the
model solution as the threshold are listed apart. README.md, "Similar answers", says why and its limits.
"""

from __future__ import annotations

import concurrent.futures
import functools
import io
import os
from dataclasses import dataclass

import numpy as np
from copydetect.detector import CodeFingerprint, compare_files
from copydetect.utils import highlight_overlap

NOISE, WINDOW = 25, 1  # copydetect's defaults: k-grams of 25 characters of filtered code, every one kept
THRESHOLD = 0.7  # share of one answer's fingerprinted code found in the other's (see README)
MIN_TOKENS = 60  # answers with less fingerprinted code than this (filtered characters) are too short to judge
# A pair is compared in full only if it shares PREFILTER x threshold of the smaller answer's k-grams: fewer can't pass.
PREFILTER = 0.5


@dataclass
class Pair:
    """Two students' answers to one exercise that look alike."""

    a: str
    b: str
    notebook: str
    exercise: str
    score: float  # the larger of the two shares of copied code, 0..1
    a_html: str  # answer of ``a`` with the shared code marked, HTML-escaped
    b_html: str


@dataclass
class ExerciseSimilarity:
    """What the similarity pass found for one exercise."""

    notebook: str
    exercise: str
    compared: int  # answers long enough and not the model's
    near_model: list[str]  # students whose answer is as close to the model solution as the threshold
    too_short: int


def fingerprint(code: str, boilerplate: np.ndarray | None = None) -> CodeFingerprint:
    """copydetect's fingerprint of one answer cell (Python), boilerplate fingerprints removed."""
    return CodeFingerprint("answer.py", NOISE, WINDOW, boilerplate=boilerplate, language="python", fp=io.StringIO(code))


@functools.lru_cache(maxsize=32)  # one notebook's given code serves all its exercises
def boilerplate_hashes(given_code: tuple[str, ...]) -> np.ndarray:
    """The fingerprints of the code every student received (release notebook cells)."""
    hashes: set[int] = set()
    for code in given_code:
        hashes |= fingerprint(code).hashes
    return np.array(sorted(hashes), dtype=np.int64)


def score(one: CodeFingerprint, other: CodeFingerprint) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
    """(the larger share of copied code, the copied slices of each answer)."""
    _, shares, slices = compare_files(one, other)
    return float(max(shares)), slices


def marked(code: str, slices: np.ndarray) -> str:
    """The answer, HTML-escaped, with the code it shares wrapped in ``<mark>``."""
    if slices.shape[-1] == 0:
        from markupsafe import escape

        return str(escape(code))
    html, _ = highlight_overlap(code, slices, "<mark>", "</mark>", escape_html=True)
    return html


def compare_exercise(
    notebook: str,
    exercise: str,
    answers: dict[str, str],
    given: list[str],
    model: str,
    threshold: float = THRESHOLD,
    min_tokens: int = MIN_TOKENS,
) -> tuple[list[Pair], ExerciseSimilarity]:
    """The pairs of ``answers`` (student -> code of one answer cell) that score at least ``threshold``."""
    boilerplate = boilerplate_hashes(tuple(given))
    model_print = fingerprint(model, boilerplate)
    prints: dict[str, CodeFingerprint] = {}
    near_model, too_short = [], 0
    seen: dict[str, CodeFingerprint] = {}  # identical answers are tokenised once
    for student, code in sorted(answers.items()):
        if len(code) < min_tokens:  # normalising only shortens code: too short without lexing it
            too_short += 1
            continue
        print_ = seen[code] if code in seen else seen.setdefault(code, fingerprint(code, boilerplate))
        if print_.token_coverage < min_tokens:
            too_short += 1
        elif model_print.hashes and score(print_, model_print)[0] >= threshold:
            near_model.append(student)
        else:
            prints[student] = print_
    # One matrix product counts the k-grams every two answers share: pairs sharing (almost) none are not compared.
    students = sorted(prints)
    columns = {hash_: i for i, hash_ in enumerate(set().union(*(p.hashes for p in prints.values())))}
    has = np.zeros((len(students), len(columns)), dtype=np.float32)
    for row, student in enumerate(students):
        has[row, [columns[hash_] for hash_ in prints[student].hashes]] = 1
    shared = has @ has.T
    sizes = has.sum(axis=1)
    candidates = np.triu(shared >= PREFILTER * threshold * np.minimum.outer(sizes, sizes), k=1)
    pairs = []
    for i, j in zip(*np.nonzero(candidates)):
        a, b = students[i], students[j]
        value, (slices_a, slices_b) = score(prints[a], prints[b])
        if value >= threshold:
            html = marked(answers[a], slices_a), marked(answers[b], slices_b)
            pairs.append(Pair(a, b, notebook, exercise, round(value, 3), *html))
    pairs.sort(key=lambda pair: (-pair.score, pair.a, pair.b))
    return pairs, ExerciseSimilarity(notebook, exercise, len(prints), near_model, too_short)


def compare_all(
    exercises: list[tuple[str, str, dict[str, str], list[str], str]],
    threshold: float = THRESHOLD,
    min_tokens: int = MIN_TOKENS,
    workers: int | None = None,
) -> tuple[list[Pair], list[ExerciseSimilarity]]:
    """:func:`compare_exercise` for every (notebook, exercise, answers, given code, model) on ``workers`` processes.

    Tokenising the answers is most of the cost, so exercises are spread over processes. One exercise
    stays in one process: copydetect hashes with Python's ``hash``, which differs between processes.
    """
    workers = max(1, min(workers or os.cpu_count() or 1, len(exercises)))
    jobs = [(*exercise, threshold, min_tokens) for exercise in exercises]
    if workers == 1:
        results = [compare_exercise(*job) for job in jobs]
    else:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(compare_exercise, *zip(*jobs)))
    pairs = [pair for found, _ in results for pair in found]
    pairs.sort(key=lambda pair: (-pair.score, pair.notebook, pair.exercise, pair.a, pair.b))
    return pairs, [stats for _, stats in results]
