"""A class's gradebook from its results.json files: grades.csv, summary.md and plots.

- grades.csv: one row per student: total, then one column per question (in the suite's order).
- summary.md (also printed): per question the mean, median, how many got full marks and zero, and
  the most common first line of feedback, so the instructor sees which mistake the class made most.
- totals.png (distribution of totals) and questions.png (full / partial / zero per question).
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from pathlib import Path

from autograder.results import first_feedback, grader_error, question_totals

GRADER_ERROR = "grader error"  # what grades.csv says for a submission the grader could not grade


def graded(documents: dict[str, dict]) -> dict[str, dict]:
    """The submissions that have a score (grader errors have none and count in no statistic)."""
    return {student: document for student, document in documents.items() if not grader_error(document)}


def _questions(documents: dict[str, dict]) -> list[str]:
    order: list[str] = []
    for document in graded(documents).values():
        for question in question_totals(document):
            if question not in order:
                order.append(question)
    return order


def write_grades_csv(documents: dict[str, dict], path: Path) -> None:
    questions = _questions(documents)
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["student", "total", *questions])
        for student, document in documents.items():
            if grader_error(document):
                writer.writerow([student, GRADER_ERROR, *("" for _ in questions)])
                continue
            totals = question_totals(document)
            writer.writerow(
                [student, f"{document.get('score', 0):g}", *(f"{totals.get(q, (0, 0))[0]:g}" for q in questions)]
            )


def summary_rows(documents: dict[str, dict]) -> list[dict]:
    documents = graded(documents)
    rows = []
    for question in _questions(documents):
        scores, maximum, feedback = [], 0.0, Counter()
        for document in documents.values():
            score, most = question_totals(document).get(question, (0.0, 0.0))
            scores.append(score)
            maximum = max(maximum, most)
            line = first_feedback(document, question)[:300]
            if line:
                feedback[line] += 1
        common = feedback.most_common(1)
        rows.append(
            {
                "question": question,
                "max": maximum,
                "mean": statistics.fmean(scores) if scores else 0.0,
                "median": statistics.median(scores) if scores else 0.0,
                "full": sum(s == maximum > 0 for s in scores),
                "zero": sum(s == 0 for s in scores),
                "feedback": f"{common[0][0]} ({common[0][1]}x)" if common else "",
            }
        )
    return rows


def write_summary(documents: dict[str, dict], out: Path, plots: list[str]) -> str:
    rows = summary_rows(documents)
    failed = {student: grader_error(d) for student, d in documents.items() if grader_error(d)}
    totals = [float(d.get("score", 0)) for d in graded(documents).values()]
    lines = [f"# Class summary: {len(documents)} submissions", ""]
    if failed:
        lines += [
            f"**{len(failed)} not graded (grader error, not a zero; fix the grader and run again, "
            "`nn-autograder doctor` names the problem):** " + ", ".join(sorted(failed)),
            "",
            f"First error: {next(iter(failed.values()))[:500]}",
            "",
        ]
    lines += [
        f"Total: mean {statistics.fmean(totals) if totals else 0:.2f}, median {statistics.median(totals) if totals else 0:g}",
        "",
        "| question | max | mean | median | full marks | zero | most common first line of feedback |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        feedback = row["feedback"].replace("|", "\\|")
        lines.append(
            f"| {row['question']} | {row['max']:g} | {row['mean']:.2f} | {row['median']:g} | {row['full']} | {row['zero']} | {feedback} |"
        )
    lines += ["", *(f"![{name}]({name})" for name in plots)]
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def write_plots(documents: dict[str, dict], out: Path) -> list[str]:
    """totals.png and questions.png; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    documents = graded(documents)
    totals = [float(d.get("score", 0)) for d in documents.values()]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.hist(totals, bins=min(20, max(5, len(set(totals)))), color="#4477aa", edgecolor="white")
    axis.set(title="Distribution of totals", xlabel="total score", ylabel="submissions")
    figure.tight_layout()
    figure.savefig(out / "totals.png", dpi=100)
    plt.close(figure)

    rows = summary_rows(documents)
    names = [r["question"] for r in rows]
    full = [r["full"] for r in rows]
    zero = [r["zero"] for r in rows]
    partial = [len(documents) - f - z for f, z in zip(full, zero)]
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.bar(names, full, color="#228833", label="full")
    axis.bar(names, partial, bottom=full, color="#ccbb44", label="partial")
    axis.bar(names, zero, bottom=[f + p for f, p in zip(full, partial)], color="#ee6677", label="zero")
    axis.set(title="Per question", ylabel="submissions")
    axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "questions.png", dpi=100)
    plt.close(figure)
    return ["totals.png", "questions.png"]


def write_gradebook(documents: dict[str, dict], out: Path) -> str:
    """grades.csv, plots and summary.md in `out`; returns the summary text."""
    write_grades_csv(documents, out / "grades.csv")
    plots = write_plots(documents, out) if graded(documents) else []
    return write_summary(documents, out, plots)
