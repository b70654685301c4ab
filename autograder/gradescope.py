"""The Gradescope autograder zip: what goes in it, and running it locally exactly as Gradescope would.

Zip layout (unpacked to /autograder/source on Gradescope):

    setup.sh            once, as root: pip-installs the pinned requirements and copies the package
                        (no conda, no browser, no TeX; student code runs as a uid of a reserved
                        range, see autograder.sandbox.isolation, so no user is created)
    run_autograder      per submission: writes a fallback results.json, then runs autograder.grade
    requirements.txt    the pins from pyproject.toml's [project] dependencies
    package/autograder/ this package's source
    assignment/         assignment.json, files/ (data for the notebook), hidden/ (pytest suite)

`run_zip` unpacks a zip into a temporary folder laid out like /autograder and runs its own
`run_autograder` with AUTOGRADER_ROOT pointing there, so local grading is Gradescope's grading.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder.results import grader_error, grader_error_document

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the grading image. Lean on purpose: pip only.
set -euo pipefail
cd "$(dirname "$0")"
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1
if ! python3 -m pip --version >/dev/null 2>&1; then
  apt-get update && apt-get install -y --no-install-recommends python3-pip
fi
python3 -m pip install --no-cache-dir -r requirements.txt
site_packages="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
rm -rf "$site_packages/autograder"
cp -r package/autograder "$site_packages/autograder"
chmod -R a+rX "$site_packages/autograder"
# Student code runs as an unprivileged uid of a reserved range (no account needed): it cannot read
# /autograder/source or write /autograder/results. `python3 -m autograder doctor` checks the machine.
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT and AUTOGRADER_PYTHON let
# `nn-autograder grade` run the very same script on a local copy laid out like /autograder.
root="${AUTOGRADER_ROOT:-/autograder}"
python="${AUTOGRADER_PYTHON:-python3}"
mkdir -p "$root/results"
# A valid result stands even if Python cannot start; the grader replaces it atomically.
if [ ! -s "$root/results/results.json" ]; then
  printf '%s\\n' '{"score": 0, "output": "The grader did not start. Submit again; if this stays, tell course staff.", "tests": []}' \\
    > "$root/results/results.json"
fi
# Isolated (-I: no current folder, PYTHONPATH or user site on sys.path) and from a known folder.
cd "$root/source" || exit 3
exec "$python" -I -m autograder.grade --source "$root/source" --submission "$root/submission" --results "$root/results"
"""


def pinned_requirements(pyproject: Path) -> list[str]:
    """The [project] dependencies of pyproject.toml: exactly what ships to Gradescope."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def make_zip(
    zip_path: Path, name: str, notebook: str, hidden_files: list[Path], data_files: list[Path], repo: Path
) -> Path:
    """Write the Gradescope zip for one assignment (see the module docstring for the layout)."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    config = {"name": name, "notebook": notebook, "files": sorted(p.name for p in data_files)}
    package = repo / "autograder"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:

        def add_text(arcname: str, text: str, executable: bool = False) -> None:
            info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)

        def add_file(arcname: str, path: Path) -> None:
            info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())

        add_text("setup.sh", SETUP_SH, executable=True)
        add_text("run_autograder", RUN_AUTOGRADER, executable=True)
        add_text("requirements.txt", "\n".join(pinned_requirements(repo / "pyproject.toml")) + "\n")
        for source in sorted(package.rglob("*.py")):
            add_file(f"package/autograder/{source.relative_to(package).as_posix()}", source)
        add_text("assignment/assignment.json", json.dumps(config, indent=2) + "\n")
        for path in sorted(data_files):
            add_file(f"assignment/files/{path.name}", path)
        for path in sorted(hidden_files):
            add_file(f"assignment/hidden/{path.name}", path)
    return zip_path


def run_zip(
    zip_path: Path, notebook: Path, timeout: float = 1800, env: dict[str, str] | None = None
) -> tuple[dict, str]:
    """Grade `notebook` with the zip as Gradescope would; returns results.json (parsed) and the
    grader's own output (what Gradescope shows instructors only).

    The zip is unpacked to <tmp>/source, the notebook copied to <tmp>/submission, and the zip's
    own run_autograder runs with AUTOGRADER_ROOT=<tmp> and this Python. `env` adds variables
    (NN_AUTOGRADER_SEED, NN_AUTOGRADER_LIMITS; AUTOGRADER_PYTHON for another interpreter).
    """
    with tempfile.TemporaryDirectory(prefix="nn-autograder-") as temporary:
        root = Path(temporary)
        os.chmod(root, 0o700)  # the unpacked zip (hidden tests) is root's alone
        source, submission = root / "source", root / "submission"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(source)
        for script in ("run_autograder", "setup.sh"):
            if (source / script).exists():
                os.chmod(source / script, 0o755)
        submission.mkdir()
        if notebook.is_dir():
            shutil.copytree(notebook, submission, dirs_exist_ok=True)
        else:
            shutil.copyfile(notebook, submission / notebook.name)
        environment = {**os.environ, "AUTOGRADER_PYTHON": sys.executable, **(env or {}), "AUTOGRADER_ROOT": str(root)}
        completed = subprocess.run(
            ["bash", str(source / "run_autograder")], env=environment, capture_output=True, text=True, timeout=timeout
        )
        results_path = root / "results" / "results.json"
        try:
            document = json.loads(results_path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise RuntimeError(
                f"run_autograder left no valid results.json ({error}); its output:\n{completed.stdout[-3000:]}"
                f"{completed.stderr[-3000:]}"
            ) from None
        extra = sorted(results_path.parent.glob("results-seed-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if extra:  # `nn-autograder verify`: the same notebook run graded with more seeds
            document = dict(document, extra_seeds=[json.loads(p.read_text()) for p in extra])
        if completed.returncode != 0 and not grader_error(document):
            document = grader_error_document(
                f"run_autograder exited with code {completed.returncode}: {completed.stderr.strip()[-1500:]}"
            )
        return document, completed.stdout + completed.stderr
