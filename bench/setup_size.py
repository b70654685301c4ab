"""Benchmark: what each Gradescope image installs, size on disk and install time.

Installs into two fresh venvs, one after the other in one run:
- ours: the pinned requirements.txt of our zip (what our setup.sh pip-installs) plus the package;
- otter's: the pip part of the environment.yml in otter's own zip of the same master
  (otter-grader[grading,plugins]==7.0.0, numpy, matplotlib) plus jupyter_server, which otter's
  environment takes from conda.
Parts that cannot run here are skipped and named: otter's apt packages (build-essential, libcurl,
libxml2, libssl, libgit2), the Miniforge download and `mamba env create`, and
`playwright install-deps && playwright install chromium` (a browser download); our setup.sh's
apt fallback (only when pip is missing) and `useradd`. So otter's real image is larger and slower
than the figure here.

    python bench/setup_size.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.build import discover, prepare  # noqa: E402


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def install(venv: Path, requirements: list[str], extra: list[str]) -> tuple[float, int]:
    subprocess.run(
        ["/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable, "-m", "venv", str(venv)],
        check=True,
    )
    empty = folder_size(venv)
    started = time.perf_counter()
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-cache-dir", *requirements, *extra],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started, folder_size(venv) - empty


def main() -> None:
    assignment = next(a for a in discover(REPO) if a.name == "hw1_layers")
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        prepared = prepare(assignment, work / "build")
        ours = zipfile.ZipFile(prepared.zip_path).read("requirements.txt").decode().split()
        otter = ["otter-grader[grading,plugins]==7.0.0", "numpy", "matplotlib", "jupyter_server"]
        our_time, our_size = install(work / "ours", ours, [])
        otter_time, otter_size = install(work / "otter", otter, [])
    print("pip part of each Gradescope image, fresh venv, no pip cache (apt, conda and browser downloads skipped)")
    print(f"ours  ({', '.join(ours)}): {our_size / 2**20:7.0f} MB, {our_time:6.1f} s")
    print(f"otter ({', '.join(otter)}): {otter_size / 2**20:7.0f} MB, {otter_time:6.1f} s")
    print(f"ratio ours / otter: size {our_size / otter_size:.2f}, time {our_time / otter_time:.2f}")


if __name__ == "__main__":
    main()
