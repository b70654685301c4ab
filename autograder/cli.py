"""The `nn-autograder` command (also `python -m autograder`).

nn-autograder build [HW ...]                  releases, solutions and zips, verified
nn-autograder grade ZIP NOTEBOOK [--out F]    grade one notebook exactly as Gradescope would
nn-autograder doctor [--json]                 check this machine can grade (exit 1 if not), with fixes
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autograder.results import format_table, grader_error, write_atomically


def _grade(args: argparse.Namespace) -> int:
    from autograder.gradescope import run_zip

    if not args.zip.is_file():
        print(f"no such zip: {args.zip}", file=sys.stderr)
        return 2
    if not args.notebook.exists():
        print(f"no such notebook: {args.notebook}", file=sys.stderr)
        return 2
    try:
        document, log = run_zip(args.zip, args.notebook)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    write_atomically(args.out, document)
    if grader_error(document):
        print(f"GRADER ERROR (no score; not the student's fault): {grader_error(document)}", file=sys.stderr)
        print(f"results: {args.out}", file=sys.stderr)
        return 3
    print(format_table(document))
    if document.get("output"):
        print("\n" + document["output"])
    print(f"\nresults: {args.out}")
    if args.verbose:
        print(json.dumps(document, indent=2))
        print(log)
    return 0


def _build(args: argparse.Namespace) -> int:
    from autograder.build import build

    return build(args.assignments or None)


def _verify(args: argparse.Namespace) -> int:
    from autograder.verify import verify

    return verify(args.assignments or None, seeds=args.seeds, jobs=args.jobs)


def _grade_all(args: argparse.Namespace) -> int:
    from autograder.grade_all import grade_all
    from autograder.gradebook import write_gradebook

    if not args.zip.is_file() or not args.submissions.exists():
        print(f"no such zip or submissions: {args.zip}, {args.submissions}", file=sys.stderr)
        return 2
    documents = grade_all(args.zip, args.submissions, args.out, jobs=args.jobs, force=args.force)
    print(write_gradebook(documents, args.out))
    print(f"gradebook: {args.out / 'grades.csv'}, {args.out / 'summary.md'}")
    failed = sorted(student for student, document in documents.items() if grader_error(document))
    if failed:
        print(f"GRADER ERROR for {len(failed)} submission(s), recorded as such, not as zeros: {', '.join(failed)}")
        print("Run `nn-autograder doctor`, fix what it names, and run grade-all again (they are regraded).")
        return 3
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from autograder.doctor import doctor

    return doctor(as_json=args.json)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nn-autograder", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="build every assignment and check solution = full, template = zero")
    build.add_argument("assignments", nargs="*", help="assignment names (default: all under solutions/)")
    build.set_defaults(run=_build)

    grade = commands.add_parser("grade", help="grade one notebook with a Gradescope zip, locally")
    grade.add_argument("zip", type=Path)
    grade.add_argument("notebook", type=Path, help="a notebook, or a submission folder")
    grade.add_argument("--out", type=Path, default=Path("results.json"))
    grade.add_argument("-v", "--verbose", action="store_true", help="print results.json and the grader's log")
    grade.set_defaults(run=_grade)

    check = commands.add_parser("verify", help="prove the hidden tests reward correct code and catch known bugs")
    check.add_argument("assignments", nargs="*", help="assignment names (default: all with a catalogue)")
    check.add_argument("--seeds", type=int, default=50, help="seeds of the hidden tests to grade the solution with")
    check.add_argument("--jobs", type=int, default=None, help="parallel gradings (default: one per core)")
    check.set_defaults(run=_verify)

    everyone = commands.add_parser("grade-all", help="grade a class locally, in parallel, with a gradebook")
    everyone.add_argument("zip", type=Path)
    everyone.add_argument(
        "submissions", type=Path, help="a folder of notebooks, or Gradescope's export (folder or zip)"
    )
    everyone.add_argument("--out", type=Path, required=True)
    everyone.add_argument("--jobs", type=int, default=None, help="parallel gradings (default: one per core)")
    everyone.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    everyone.set_defaults(run=_grade_all)

    health = commands.add_parser("doctor", help="check this machine can grade: root, sandbox uid, Python, isolation")
    health.add_argument("--json", action="store_true", help="print the checks as JSON")
    health.set_defaults(run=_doctor)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
