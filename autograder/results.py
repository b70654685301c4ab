"""Gradescope results.json: building it, keeping it small, writing it atomically.

Format (see shared notes/gradescope.md): ``{"score", "output", "output_format", "visibility",
"stdout_visibility", "tests": [{"name", "number", "score", "max_score", "status", "output",
"output_format", "tags", "visibility"}]}``. The grader writes a fallback before any student code
runs and replaces it with `os.replace` at the end, so the file is always complete and valid.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

TEST_OUTPUT_LIMIT = 4_000
OUTPUT_LIMIT = 20_000


@dataclass
class TestRecord:
    """One graded check: `name` is "<question>: <what it checks>"."""

    question: str
    name: str
    max_score: float
    score: float = 0.0
    output: str = ""
    visibility: str = "after_published"
    number: str = ""

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "number": self.number,
            "score": round(self.score, 4),
            "max_score": self.max_score,
            "status": "passed" if self.score >= self.max_score else "failed",
            "output": cap(self.output, TEST_OUTPUT_LIMIT),
            "output_format": "text",
            "tags": [self.question],
            "visibility": self.visibility,
        }


def cap(text: str, limit: int) -> str:
    """At most `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters cut]"


def results_document(tests: list[TestRecord], output: str, execution_time: float | None = None) -> dict:
    document = {
        "score": round(sum(t.score for t in tests), 4),
        "output": cap(output, OUTPUT_LIMIT),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [t.as_json() for t in tests],
    }
    if execution_time is not None:
        document["execution_time"] = int(round(execution_time))
    return document


def fallback_document() -> dict:
    """What stands if grading never finishes: zero, and a sentence saying so."""
    return results_document(
        [],
        "The grader did not finish grading this submission, so no score was given. "
        "Submit again; if this message stays, tell course staff.",
    )


def grader_error_document(problem: str) -> dict:
    """The grader could not grade on this machine (its installation or isolation failed): no
    score at all, so that nobody mistakes it for a zero, and a message saying whose fault it is.
    `extra_data.grader_error` marks it for `grade`, `grade-all` and `build`."""
    return {
        "output": cap(
            "The autograder could not run on this machine, so your submission was not graded "
            "(this is not about your code). Course staff have been told; you do not need to do anything.\n\n"
            f"For staff: {problem}",
            OUTPUT_LIMIT,
        ),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {"grader_error": cap(problem, 2_000)},
    }


def grader_error(document: dict) -> str:
    """The grader error a results.json reports, or "" for a graded submission."""
    extra = document.get("extra_data")
    return str(extra.get("grader_error") or "") if isinstance(extra, dict) else ""


def write_atomically(path: Path, document: dict) -> None:
    """Write JSON to a temporary file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".results-", suffix=".json")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(document, stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def question_totals(document: dict) -> dict[str, tuple[float, float]]:
    """question -> (score, max) summed over the tests tagged with it, in order of appearance."""
    totals: dict[str, list[float]] = {}
    for test in document.get("tests", []):
        question = (test.get("tags") or [test.get("name", "?").split(":")[0]])[0]
        entry = totals.setdefault(question, [0.0, 0.0])
        entry[0] += float(test.get("score", 0))
        entry[1] += float(test.get("max_score", 0))
    return {q: (round(s, 4), round(m, 4)) for q, (s, m) in totals.items()}


def format_table(document: dict) -> str:
    """A per-question table (question, score, max) with a total line."""
    rows = question_totals(document)
    width = max([len("question"), *(len(q) for q in rows)])
    lines = [f"{'question':<{width}}  {'score':>7}  {'max':>7}"]
    lines += [f"{q:<{width}}  {s:>7g}  {m:>7g}" for q, (s, m) in rows.items()]
    total = sum(s for s, _ in rows.values()), sum(m for _, m in rows.values())
    lines.append(f"{'total':<{width}}  {total[0]:>7g}  {total[1]:>7g}")
    return "\n".join(lines)


def first_feedback(document: dict, question: str | None = None) -> str:
    """The first line of feedback of the first test that lost points (in `question`, if given)."""
    for test in document.get("tests", []):
        if test["score"] < test["max_score"] and (question is None or test["tags"][0] == question):
            return (test.get("output") or "(no feedback)").splitlines()[0]
    return ""
