"""`nn-autograder verify [HW ...]`: proof that the hidden tests reward correct code and catch bugs.

For each assignment (``solutions/<hw>/`` with a ``catalogue.toml``) it builds the zip, then grades:

- the solution under `seeds` different seeds of the hidden tests (every one must be full marks:
  a check that fails a correct solution on some seed is flaky);
- the untouched template (must be zero);
- every known bug from the catalogue (each must lose points on its question, with feedback that
  contains the catalogue's words: the function, the output, the hint);
- every correct variant (each must get full marks).

Every one of those notebooks also goes through the student's own check, ``otter check`` in a copy
of the student release (public tests and ``nn_checks.py``): the solution and every variant must
pass it, and a bug the grade catches must fail it on the same question, unless its entry says
why it is hidden-only (other sizes, large inputs, unseen data). Every kind of requirement the
catalogue names (``kind``) must be caught by the public tests for at least one bug of that kind,
so ``otter check`` warns about each kind before the grade does. A bug's feedback must not contain
its ``forbidden`` words (a hint whose diagnosis is false).

It prints a table (kind, name, question, points lost, whether ``otter check`` fails too, first
line of feedback) and a summary with the kill rate, the false-failure rate and the public
coverage per kind, and exits non-zero when anything is off. Grading runs in parallel, one job
per core by default.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autograder.build import REPO, Assignment, discover, prepare
from autograder.grade import GraderError
from autograder.gradescope import run_zip
from autograder.results import first_feedback, grader_error, question_totals

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


@dataclass
class Change:
    """One catalogue entry: a bug (with `question` and `feedback` words) or a correct variant."""

    kind: str  # "bug" or "variant"
    name: str
    replace: list[tuple[str, str]] = field(default_factory=list)
    insert: list[tuple[str | None, str]] = field(default_factory=list)
    question: str = ""
    feedback: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)  # words the question's feedback must not hold
    requirement: str = ""  # the catalogue's `kind`: the kind of requirement the bug breaks (KINDS)
    hidden_only: str = ""  # why `otter check` cannot see this bug, when it cannot


SEEDS_PER_RUN = 10
KINDS = ("shapes", "values", "gradients", "stability", "inputs", "speed", "training", "recursion")


def load_catalogue(assignment: Assignment) -> list[Change]:
    path = assignment.folder / "catalogue.toml"
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text())
    changes = []
    for kind in ("bug", "variant"):
        for entry in data.get(kind, []):
            changes.append(
                Change(
                    kind,
                    entry["name"],
                    [tuple(pair) for pair in entry.get("replace", [])],
                    [tuple(pair) for pair in entry.get("insert", [])],
                    entry.get("question", ""),
                    list(entry.get("feedback", [])),
                    list(entry.get("forbidden", [])),
                    entry.get("kind", ""),
                    entry.get("hidden_only", ""),
                )
            )
    for change in changes:
        if change.kind == "bug" and change.requirement not in KINDS:
            raise ValueError(f"{path}: bug {change.name!r} needs kind = one of {KINDS}")
    return changes


def _code_cell_with(notebook: dict, text: str) -> dict:
    matches = [c for c in notebook["cells"] if c["cell_type"] == "code" and text in "".join(c["source"])]
    if len(matches) != 1:
        raise ValueError(f"expected one code cell containing {text!r}, found {len(matches)}")
    return matches[0]


def apply_changes(
    source: Path, destination: Path, replace: list[tuple[str, str]] = (), insert: list[tuple[str | None, str]] = ()
) -> Path:
    """Write a copy of the notebook `source` with text replaced in the code cell holding each old
    text (which must exist, in one cell) and new code cells inserted before the code cell holding
    each anchor (None: at the end)."""
    notebook = json.loads(source.read_text())
    for old, new in replace:
        cell = _code_cell_with(notebook, old)
        cell["source"] = "".join(cell["source"]).replace(old, new)
    for anchor, code in insert:
        cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": code}
        position = (
            len(notebook["cells"]) if anchor is None else notebook["cells"].index(_code_cell_with(notebook, anchor))
        )
        notebook["cells"].insert(position, cell)
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(json.dumps(notebook))
    return destination


OTTER_QUESTION = re.compile(r"^(\S+) results:(.*)$")
PUBLIC_CHECK_SECONDS = 600
TIMED_OUT = "(otter check timed out)"  # the key public_check returns when otter check did not finish


def public_check(release: Path, notebook: Path, workdir: Path) -> dict[str, str]:
    """Run the student's own check, `otter check`, on `notebook` in a copy of the student release
    (`release`: otter's student folder: public tests, nn_checks.py, data). Returns question -> the
    text of its failures (empty when every public test passed), or {TIMED_OUT: why} when otter
    check did not finish within PUBLIC_CHECK_SECONDS (its process group is then killed)."""
    folder = workdir / "release"
    shutil.copytree(release, folder)
    target = next(folder.glob("*.ipynb"))
    shutil.copyfile(notebook, target)
    process = subprocess.Popen(
        [sys.executable, "-m", "otter", "check", target.name],
        cwd=folder,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its kernel too can be killed as one group
    )
    try:
        output, _ = process.communicate(timeout=PUBLIC_CHECK_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return {TIMED_OUT: f"otter check did not finish within {PUBLIC_CHECK_SECONDS} s"}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if "All tests passed!" in output:
        return {}
    failures: dict[str, str] = {}
    current = None
    for line in output.splitlines():
        match = OTTER_QUESTION.match(line)
        if match:
            current = None if "All test cases passed" in match.group(2) else match.group(1)
            if current:
                failures[current] = ""
        elif current:
            failures[current] += line.strip() + "\n"
    if not failures:
        raise RuntimeError(f"otter check gave no result for {notebook}:\n{output[-2000:]}")
    return failures


@dataclass
class Row:
    kind: str
    name: str
    question: str
    lost: float
    feedback: str
    ok: bool
    why: str = ""
    public: str = "-"  # "fails" when otter check fails on the row's question, "passes", or "-"
    requirement: str = ""
    seconds: float = 0.0  # its grading plus its otter check (what the entry costs verify and CI)


def _judge(change: Change, document: dict, public: dict[str, str]) -> Row:
    totals = question_totals(document)
    lost_total = sum(m - s for s, m in totals.values())
    timed_out = public.get(TIMED_OUT, "")
    if change.kind == "variant":
        why = "a correct variant lost points" if lost_total else timed_out
        if public and not why:
            why = f"otter check fails a correct variant on {sorted(public)}: {next(iter(public.values()))[:150]}"
        return Row(
            "variant",
            change.name,
            "-",
            lost_total,
            first_feedback(document, None),
            not why,
            why,
            "timeout" if timed_out else "fails" if public else "passes",
        )
    score, maximum = totals.get(change.question, (0.0, 0.0))
    feedback = "\n".join(
        t["output"]
        for t in document.get("tests", [])
        if t["tags"][0] == change.question and t["score"] < t["max_score"]
    )
    missing = [word for word in change.feedback if word not in feedback]
    misleading = [word for word in change.forbidden if word in feedback]
    caught = maximum > 0 and score < maximum
    publicly = change.question in public
    problems = [
        (not caught, "not caught"),
        (bool(missing), f"feedback lacks {missing}"),
        (bool(misleading), f"misleading feedback: {misleading}"),
        (bool(timed_out), timed_out),
        (
            not publicly and not change.hidden_only,
            "otter check passes it: add a public test, or hidden_only with the reason",
        ),
    ]
    why = next((reason for failed, reason in problems if failed), "")
    return Row(
        "bug",
        change.name,
        change.question,
        maximum - score,
        first_feedback(document, change.question),
        not why,
        why,
        "timeout" if timed_out else "fails" if publicly else ("hidden" if change.hidden_only else "passes"),
        change.requirement,
    )


def verify_assignment(assignment: Assignment, seeds: int, jobs: int, workdir: Path) -> tuple[list[Row], dict]:
    prepared = prepare(assignment, workdir)
    changes = load_catalogue(assignment)
    notebooks = {
        change.name: apply_changes(
            prepared.solution, workdir / "variants" / f"{index}" / prepared.solution.name, change.replace, change.insert
        )
        for index, change in enumerate(changes)
    }

    def grade(notebook: Path, seed: int = 0, extra_seeds: int = 0) -> dict:
        env = {"NN_AUTOGRADER_SEED": str(seed), "NN_AUTOGRADER_EXTRA_SEEDS": str(extra_seeds)}
        document = run_zip(prepared.zip_path, notebook, env=env)[0]
        if grader_error(document):  # proves nothing about the suite: stop, and say what to fix
            raise GraderError(f"{notebook.name}: {grader_error(document)}")
        return document

    release = prepared.otter_out / "student"

    def check_publicly(index: int, notebook: Path) -> dict[str, str]:
        return public_check(release, notebook, workdir / "public" / str(index))

    def solution_seeds(first: int, count: int) -> list[dict]:
        """Seeds first .. first+count-1: one notebook run, the hidden suite once per seed."""
        document = grade(prepared.solution, first, count - 1)
        return [document, *document.pop("extra_seeds", [])]

    # the solution's seeds in chunks of at most SEEDS_PER_RUN; the notebook runs once per chunk, and
    # the suite once per seed within the grading's total time limit
    per_job = min(-(-seeds // jobs), SEEDS_PER_RUN)
    chunks = [(start, min(per_job, seeds - start)) for start in range(0, seeds, per_job)]
    seconds = [0.0] * len(changes)  # per entry: its grading plus its otter check

    def timed(index: int, step, *args):
        started = time.monotonic()
        try:
            return step(*args)
        finally:
            seconds[index] += time.monotonic() - started

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        solution_runs = [d for chunk in pool.map(lambda c: solution_seeds(*c), chunks) for d in chunk]
        template = pool.submit(grade, prepared.template)
        graded = list(pool.map(lambda i: timed(i, grade, notebooks[changes[i].name]), range(len(changes))))
        template = template.result()
        solution_public = pool.submit(check_publicly, -1, prepared.solution)
        public = list(pool.map(lambda i: timed(i, check_publicly, i, notebooks[changes[i].name]), range(len(changes))))
        solution_public = solution_public.result()

    rows = [_judge(*entry) for entry in zip(changes, graded, public, strict=True)]
    for row, cost in zip(rows, seconds, strict=True):
        row.seconds = cost
    short = [
        (seed, d["score"])
        for seed, d in enumerate(solution_runs)
        if any(s != m for s, m in question_totals(d).values())
    ]
    facts = {
        "seeds": seeds,
        "solution_short": short,
        "solution_feedback": [first_feedback(solution_runs[seed], None) for seed, _ in short][:5],
        "template_score": template["score"],
        "template_tests": len(template.get("tests", [])),
        "solution_public": solution_public,
        "coverage": public_coverage(rows),
    }
    return rows, facts


def public_coverage(rows: list[Row]) -> dict[str, tuple[int, int]]:
    """Per kind of requirement: (bugs of that kind the public tests catch, bugs of that kind)."""
    coverage: dict[str, tuple[int, int]] = {}
    for row in rows:
        if row.kind == "bug":
            caught, total = coverage.get(row.requirement, (0, 0))
            coverage[row.requirement] = (caught + (row.public == "fails"), total + 1)
    return coverage


def print_report(name: str, rows: list[Row], facts: dict) -> bool:
    print(f"\n{name}")
    width = max([len(r.name) for r in rows] + [4])
    print(f"{'kind':<8}{'name':<{width + 2}}{'question':<13}{'lost':>6}  {'public':<7}{'s':>5}  first line of feedback")
    for row in rows:
        flag = "" if row.ok else f"   <-- {row.why}"
        print(
            f"{row.kind:<8}{row.name:<{width + 2}}{row.question:<13}{row.lost:>6g}  {row.public:<7}"
            f"{row.seconds:>5.0f}  {row.feedback[:100]}{flag}"
        )
    bugs = [r for r in rows if r.kind == "bug"]
    variants = [r for r in rows if r.kind == "variant"]
    killed = sum(r.ok for r in bugs)
    false_failures = sum(not r.ok for r in variants)
    full = facts["seeds"] - len(facts["solution_short"])
    print(
        f"kill rate {killed}/{len(bugs)} ({100 * killed / max(1, len(bugs)):.0f}%), "
        f"false failures {false_failures}/{len(variants)} ({100 * false_failures / max(1, len(variants)):.0f}%), "
        f"solution full marks on {full}/{facts['seeds']} seeds, template {facts['template_score']:g} "
        f"on {facts['template_tests']} checks"
    )
    for (seed, score), feedback in zip(facts["solution_short"], facts["solution_feedback"]):
        print(f"  solution short of full marks with seed {seed} ({score:g}): {feedback}")
    coverage = facts["coverage"]
    uncovered = sorted(kind for kind, (caught, _) in coverage.items() if caught == 0)
    print(
        "otter check: solution "
        + ("passes" if not facts["solution_public"] else f"FAILS {sorted(facts['solution_public'])}")
        + "; bugs it catches per kind: "
        + ", ".join(f"{kind} {caught}/{total}" for kind, (caught, total) in sorted(coverage.items()))
    )
    for kind in uncovered:
        print(f"  no public test catches a bug of kind {kind!r}: otter check must warn about every kind")
    misleading = sum("misleading" in r.why for r in bugs)
    print(f"misleading feedback (forbidden words present): {misleading}")
    slowest = sorted(rows, key=lambda r: r.seconds, reverse=True)[:5]
    print(
        f"entries: {sum(r.seconds for r in rows):.0f} s of grading and otter check in all; the slowest: "
        + "; ".join(f"{r.name} ({r.seconds:.0f} s)" for r in slowest)
    )
    return (
        killed == len(bugs)
        and false_failures == 0
        and not facts["solution_short"]
        and facts["template_score"] == 0
        and not facts["solution_public"]
        and not uncovered
    )


def verify(names: list[str] | None = None, seeds: int = 50, jobs: int | None = None, repo: Path = REPO) -> int:
    assignments = [a for a in discover(repo) if not names or a.name in names]
    if not assignments:
        print(f"no assignments found matching {names}", file=sys.stderr)
        return 2
    jobs = jobs or os.cpu_count() or 1
    all_ok = True
    started = time.monotonic()
    for assignment in assignments:
        with tempfile.TemporaryDirectory() as temporary:
            try:
                rows, facts = verify_assignment(assignment, seeds, jobs, Path(temporary))
            except GraderError as error:
                print(f"GRADER ERROR: {error}\nRun `nn-autograder doctor` for what to fix.", file=sys.stderr)
                return 3
        all_ok &= print_report(assignment.name, rows, facts)
    print(f"\nverify took {time.monotonic() - started:.0f} s with {jobs} parallel jobs")
    if not all_ok:
        print("VERIFY FAILED", file=sys.stderr)
    return 0 if all_ok else 1
