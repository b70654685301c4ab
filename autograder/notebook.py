"""Reading a submitted notebook as it comes, without trusting it to be well formed.

`find_notebook` picks the notebook out of a submission folder; `read_cells` turns it into the code
cells to run, each with the questions whose ``grader.check("<q>")`` it holds. Anything that cannot
be graded raises `NotGradable` with one sentence for the student: what is wrong, what to do.
Only the JSON structure is read (no nbformat validation), so extra or missing metadata, an old
nbformat 3 layout, saved outputs of any size and renamed files are all fine.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from autograder.sandbox import Cell

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
CHECK_CALL = re.compile(r"""\.check\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")


def check_calls(source: str) -> list[str]:
    """The questions of the ``grader.check("<question>")`` calls in a cell's code, in order; a call
    in a comment or a string does not count (it would move the question's checkpoint). A cell that
    is not plain Python (IPython magics) is read line by line without its magics; one that still
    does not parse falls back to the text."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return CHECK_CALL.findall(source)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "check"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and node.args[0].value.isidentifier()
    ]
    return [node.args[0].value for node in sorted(calls, key=lambda node: (node.lineno, node.col_offset))]


class NotGradable(Exception):
    """The submission cannot be graded; the message says why and what to do, in one sentence."""


def _regular_file(path: Path) -> bool:
    """A file of its own, not a link (a link in a submission could point at the hidden tests)."""
    return path.is_file() and not path.is_symlink()


def find_notebook(submission_dir: Path, expected_name: str) -> Path:
    """The notebook to grade: `expected_name` if present, else the only (or newest) .ipynb.
    Links are never followed."""
    exact = submission_dir / expected_name
    if _regular_file(exact):
        return exact
    candidates = sorted(
        (p for p in submission_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and _regular_file(p)),
        key=lambda p: (p.stat().st_mtime, p.name),
    )
    if not candidates:
        raise NotGradable(
            f"No notebook was found in your submission: upload your {expected_name} (the .ipynb file, not a PDF or .py)."
        )
    return candidates[-1]


def _source_text(source: object) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return ""


def read_cells(path: Path) -> list[Cell]:
    """The notebook's code cells in order, with their checkpoints. Raises NotGradable, and
    nothing else, whatever the file holds."""
    try:
        return _read_cells(path)
    except NotGradable:
        raise
    except Exception as error:  # noqa: BLE001 - a notebook no reader expects (huge ints, odd types)
        raise NotGradable(
            f"{path.name} could not be read as a notebook ({type(error).__name__}): open it in Jupyter, "
            "save it and submit the .ipynb again."
        ) from None


def _read_cells(path: Path) -> list[Cell]:
    name = path.name
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise NotGradable(
            f"{name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB: clear the outputs (Kernel > Restart & Clear Output), save and submit again."
        )
    try:
        document = json.loads(path.read_bytes().decode("utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError):
        raise NotGradable(
            f"{name} is not a valid notebook file (it is not JSON, perhaps cut short or renamed from another format): "
            "open it in Jupyter, save it and submit the .ipynb again."
        ) from None
    if not isinstance(document, dict):
        raise NotGradable(
            f"{name} is not a notebook: download it from Jupyter with File > Download and submit that file."
        )
    if isinstance(document.get("cells"), list):
        raw_cells = document["cells"]
    elif isinstance(document.get("worksheets"), list):  # nbformat 3
        raw_cells = [
            c
            for sheet in document["worksheets"]
            if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list)
            for c in sheet["cells"]
        ]
    else:
        raise NotGradable(f"{name} has no cells: submit the notebook you worked in, saved, with your code in it.")
    cells: list[Cell] = []
    for raw in raw_cells:
        if not isinstance(raw, dict) or raw.get("cell_type") != "code":
            continue
        source = _source_text(raw.get("source", raw.get("input", "")))
        cells.append(Cell(len(cells), source, check_calls(source)))
    if not any(cell.source.strip() for cell in cells):
        raise NotGradable(f"{name} has no code in it: submit the notebook you worked in, saved, with your code in it.")
    return cells
