"""Attacks on the grader. Each case is the solution notebook plus an attack, graded with the real
Gradescope zip; each asserts the outcome. The README's security section tables them.

Cases that need the grader to be root (privilege drop, process limits) are skipped otherwise;
CI runs as root, so they run there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from conftest import assert_valid_results, feedback_for, sandbox_accounting, scores_by_question, write_variant

from autograder.gradescope import run_zip

FULL = {"linear": 4, "relu": 2, "sigmoid": 2, "mse": 2, "softmax_ce": 4, "param_count": 2, "training": 4}
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs the grader to run as root")
HIDDEN_TEST_TEXT = "require_real_backward"  # appears in the hidden suite only
RELU_CHECK = 'grader.check("relu")'
PARAM_COUNT_CHECK = 'grader.check("param_count")'


@pytest.fixture
def short_limits(monkeypatch):
    """Shorter timeouts so the attacks that hang are cut quickly (the grader reads this variable;
    a submission cannot set the grader's environment)."""
    monkeypatch.setenv("NN_AUTOGRADER_LIMITS", json.dumps({"cell_timeout": 8, "call_timeout": 8}))


@pytest.fixture
def attack(hw1, grade, tmp_path, short_limits):
    """attack(replacements=..., insert=...) -> results.json of the solution with the attack in it."""

    def run(replacements=(), insert=(), name="hw1_layers.ipynb"):
        return grade(write_variant(hw1.solution, tmp_path / "submission" / name, list(replacements), list(insert)))

    return run


def survivors(marker: str) -> list[int]:
    """Live processes (not zombies) whose command line or environment holds `marker`: what an
    attack left behind (other gradings on the machine do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or (entry / "stat").read_text().split(") ")[1].startswith("Z"):
                continue
            if marker.encode() in (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


def full_except(totals: dict, *questions: str, why: dict | None = None) -> None:
    for question, points in FULL.items():
        if question not in questions:
            details = f"\n{why['output']}\n{feedback_for(why, question)}" if why else ""
            assert totals[question] == (points, points), f"{question}: {totals[question]}{details}"


# 1. wrong answer + patched numpy / builtins --------------------------------------------------------
RELU_IGNORES_DOUT = ("dx = dout * (x > 0)", "dx = 1.0 * (x > 0)")
PATCHES = """
import builtins, math
import numpy as np
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
math.isclose = lambda *a, **k: True
builtins.abs = lambda value: 0
builtins.all = lambda *a: True
"""


def test_patched_numpy_and_builtins_do_not_help_a_wrong_answer(attack):
    plain = scores_by_question(attack([RELU_IGNORES_DOUT]))
    patched_document = attack([RELU_IGNORES_DOUT], insert=[(RELU_CHECK, PATCHES)])
    patched = scores_by_question(patched_document)
    assert patched["relu"] == plain["relu"] and plain["relu"][0] < 2
    assert "ignores the upstream gradient" in feedback_for(patched_document, "relu")


# 2. looking for expected values in the stack or the heap ----------------------------------------------
SNOOPING_RELU = """
def relu_forward(x):
    import gc, inspect
    found = None
    for frame in inspect.stack():
        for value in list(frame.frame.f_locals.values()):
            if isinstance(value, np.ndarray) and value.shape == x.shape and value is not x and (value >= 0).all():
                found = value
    for obj in gc.get_objects():
        if isinstance(obj, dict):
            for key in ("expected", "reference", "out", "answer"):
                value = obj.get(key)
                if isinstance(value, np.ndarray) and value.shape == x.shape and value is not x:
                    found = value
    return (found if found is not None else np.zeros_like(x)), x
"""


def test_stack_and_heap_walkers_find_nothing(attack, hw1_assignment):
    # snoop at the relu check only (gc walks in every training step would just make the test slow)
    document = attack(
        insert=[
            (RELU_CHECK, SNOOPING_RELU),
            ("def sigmoid_forward", "def relu_forward(x):\n    return np.maximum(x, 0), x\n"),
        ]
    )
    totals = scores_by_question(document)
    forward = next(t for t in document["tests"] if t["name"] == "relu: forward matches max(0, x)")
    assert forward["score"] == 0 and "relu_forward: out is wrong" in forward["output"]
    assert totals["relu"][0] < 2


FIND_GRADER = """
import os


def _grader():
    \"\"\"The grader's process: its command line (world-readable) names the source and results folders.\"\"\"
    for entry in os.listdir("/proc"):
        try:
            parts = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\\0")
        except OSError:
            continue
        if b"autograder.grade" in parts:
            return int(entry), [part.decode() for part in parts]
    return None, []
"""


# 3. reading the hidden tests and the results folder ---------------------------------------------------
READ_EVERYTHING = (
    FIND_GRADER
    + """
_stolen, _denied, _roots = [], [], ["/autograder"]
_grader_pid, _args = _grader()
_roots += [_args[i + 1] for i, part in enumerate(_args) if part in ("--source", "--results")]
for _root in _roots:
    try:
        os.listdir(_root)
    except OSError as error:
        _denied.append(str(error))
    for _dir, _, _files in os.walk(_root, onerror=lambda error: _denied.append(str(error))):
        for _name in _files:
            try:
                _stolen.append(open(os.path.join(_dir, _name), errors="replace").read())
            except OSError as error:
                _denied.append(str(error))
answer_one_hidden = "STOLEN:" + "".join(_stolen)[:3000]
answer_two_hidden = f"GRADER:{_grader_pid} DENIED:" + " ".join(_denied)[:600]
"""
)


@AS_ROOT
def test_hidden_tests_and_results_cannot_be_read(attack, isolation):
    document = attack(insert=[(PARAM_COUNT_CHECK, READ_EVERYTHING)])
    text = json.dumps(document)
    assert HIDDEN_TEST_TEXT not in text and "def test_" not in text
    feedback = feedback_for(document, "param_count")
    assert "STOLEN:'" in feedback or "STOLEN:" in feedback
    if isolation == "namespaces":  # its own /proc: the grader's process is not even visible
        assert "GRADER:None" in feedback
    else:
        assert "Permission denied" in feedback and "/source" in feedback and "/results" in feedback


READ_THE_CHECKOUT = """
import glob, os
_checkout = "CHECKOUT"
_found = []
for _pattern in ("solutions/*/test_*.py", "solutions/*/*.ipynb", "dist/*/solution/*.ipynb", ".git/HEAD"):
    for _path in glob.glob(os.path.join(_checkout, _pattern)) or [os.path.join(_checkout, _pattern)]:
        try:
            _found.append(f"READ {_path}: {open(_path, errors='replace').read()[:80]!r}")
        except OSError as error:
            _found.append(f"NOT READ {_path}: {type(error).__name__}")
_package = os.path.join(_checkout, "autograder", "checks.py")
_found.append("PACKAGE " + ("readable" if os.access(_package, os.R_OK) else "missing"))
answer_two_hidden = " | ".join(_found)
"""


@AS_ROOT
def test_the_graders_checkout_cannot_be_read(attack, isolation):
    """Red team (hw2): grading from a checkout, a notebook exec'd the solved notebook it found in
    dist/ and got full marks. namespaces: the checkout is an empty folder but for the package and
    the venv; uid-only: solutions/, dist/ and .git are closed to other users."""
    checkout = Path(__file__).resolve().parent.parent
    document = attack(insert=[(PARAM_COUNT_CHECK, READ_THE_CHECKOUT.replace("CHECKOUT", str(checkout)))])
    feedback = feedback_for(document, "param_count")
    assert "NOT READ" in feedback and "READ /" not in feedback.replace("NOT READ /", ""), feedback
    assert "PACKAGE readable" in feedback  # the sandbox still runs its own modules from there
    expected = "FileNotFoundError" if isolation == "namespaces" else "PermissionError"
    assert expected in feedback, feedback


NETWORK = """
import socket

try:
    socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
    answer_two_hidden = "NETWORK: connected"
except OSError as error:
    answer_two_hidden = f"NETWORK: {error}"
"""


@AS_ROOT
def test_no_network(attack, isolation):
    """A server on this machine's loopback is out of reach: the sandbox has its own, empty network."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        document = attack(insert=[(PARAM_COUNT_CHECK, NETWORK.replace("PORT", str(port)))])
    feedback = feedback_for(document, "param_count")
    assert "NETWORK:" in feedback and "connected" not in feedback.replace("NETWORK: ", "")


# 4. forging results.json, also from a process that outlives the notebook ------------------------------
FORGE = (
    FIND_GRADER
    + '''
import json, subprocess, sys
_forged = json.dumps({"score": 1000, "output": "FORGED", "tests": []})
_, _args = _grader()
_targets = ["/autograder/results/results.json"]
_targets += [_args[i + 1] + "/results.json" for i, part in enumerate(_args) if part == "--results"]
for _target in _targets:
    try:
        open(_target, "w").write(_forged)
    except OSError as error:
        print(error)
_loop = f"""
import time
for _ in range(1200):
    for target in {_targets!r}:
        try:
            open(target, "w").write({_forged!r})
        except OSError:
            pass
    time.sleep(0.05)
"""
subprocess.Popen([sys.executable, "-c", _loop], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
'''
)


@AS_ROOT
def test_forged_results_do_not_stand(attack, isolation):
    document = attack(insert=[(RELU_CHECK, FORGE)])
    assert "FORGED" not in json.dumps(document) and document["score"] == 20
    assert survivors("FORGED") == [], "a process the notebook started outlived grading"


# 5. exits ---------------------------------------------------------------------------------------------
KILL_THE_GRADER = (
    FIND_GRADER
    + """
import signal


def kill_the_grader():
    os.kill(_grader()[0], signal.SIGKILL)  # refused: another user (in a PID namespace, not even there)


kill_the_grader()
"""
)


@pytest.mark.parametrize(
    "code, words",
    [
        ("import os\nos._exit(0)", "exited with code 0"),
        ("import sys\nsys.exit()", "SystemExit"),
        pytest.param(KILL_THE_GRADER, "raised", marks=AS_ROOT),  # PermissionError, or no such process
    ],
    ids=["os._exit", "sys.exit", "kill-the-grader"],
)
def test_exits_leave_valid_results_and_the_rest_graded(attack, code, words):
    document = attack(insert=[(RELU_CHECK, code)])
    full_except(scores_by_question(document))
    assert words in document["output"]


# 6. endless loops ---------------------------------------------------------------------------------------
def test_endless_loop_in_a_cell_costs_nothing_else(hw1, tmp_path, short_limits):
    notebook = write_variant(
        hw1.solution, tmp_path / "hw1_layers.ipynb", insert=[(RELU_CHECK, "while True:\n    pass")]
    )
    document, output = run_zip(hw1.zip_path, notebook)
    assert_valid_results(document)
    waiting = sandbox_accounting(output)
    assert (waiting["cell timeouts"], waiting["call timeouts"]) == (1, 0), waiting  # the loop's cell, once
    full_except(scores_by_question(document))
    assert "timed out after 8 s; it was skipped" in document["output"]


def test_endless_loop_in_a_function_costs_only_its_question(hw1, tmp_path, short_limits):
    notebook = write_variant(
        hw1.solution, tmp_path / "hw1_layers.ipynb", [("dx = dout * s * (1 - s)", "while True:\n        pass")]
    )
    document, output = run_zip(hw1.zip_path, notebook)
    assert_valid_results(document)
    waiting = sandbox_accounting(output)
    assert waiting["call timeouts"] == 1 and waiting["refused"] >= 1, waiting  # later uses refused at once
    totals = scores_by_question(document)
    full_except(totals, "sigmoid")
    assert totals["sigmoid"][0] == 1.0  # the two forward checks only
    assert "did not finish" in feedback_for(document, "sigmoid") or "timed out" in feedback_for(document, "sigmoid")


# 7. memory and fork bombs --------------------------------------------------------------------------------
def test_memory_bomb_in_a_cell_is_skipped(attack):
    bomb = "_hog = []\nwhile True:\n    _hog.append(np.ones(10**7))"
    document = attack(insert=[(RELU_CHECK, bomb)])
    full_except(scores_by_question(document))
    assert "ran out of memory" in document["output"]


def test_memory_bomb_in_a_function_fails_its_question(attack):
    bomb = "_hog = []\n    while True:\n        _hog.append(np.ones(10**7))\n    out = np.maximum(x, 0)"
    document = attack([("out = np.maximum(x, 0)", bomb)])
    totals = scores_by_question(document)
    assert totals["relu"][0] == 0 and "MemoryError" in feedback_for(document, "relu")
    full_except(totals, "relu", "training")


@AS_ROOT
def test_fork_bomb_is_contained(attack, isolation):
    bomb = (  # every child becomes a long sleeper carrying a mark; the parent forks until refused
        "import os, sys\nwhile True:\n    if os.fork() == 0:\n"
        "        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', 'FORK_BOMB_MARK'])"
    )
    document = attack(insert=[(RELU_CHECK, bomb)])
    full_except(scores_by_question(document))
    assert survivors("FORK_BOMB_MARK") == []


# 8. flooding the output -----------------------------------------------------------------------------------
def test_ten_million_lines_of_output(attack, monkeypatch):
    monkeypatch.setenv("NN_AUTOGRADER_LIMITS", json.dumps({"cell_timeout": 150}))
    document = attack(insert=[(RELU_CHECK, "for i in range(10**7):\n    print(i)")])
    assert len(json.dumps(document)) < 100_000
    full_except(scores_by_question(document), why=document)


# 9. notebooks as they come ----------------------------------------------------------------------------------
def test_nbformat3_notebook(hw1, grade, tmp_path):
    old = nbformat.convert(nbformat.read(hw1.solution, as_version=4), 3)
    path = tmp_path / "hw1_layers.ipynb"
    nbformat.write(old, str(path), version=3)
    assert json.loads(path.read_text())["nbformat"] == 3
    full_except(scores_by_question(grade(path)))


def test_no_metadata_renamed_and_several_notebooks(hw1, grade, tmp_path):
    notebook = json.loads(hw1.solution.read_text())
    notebook["metadata"] = {}
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "Untitled.ipynb").write_text(hw1.template.read_text())
    os.utime(folder / "Untitled.ipynb", (1, 1))
    (folder / "hw1 layers (2).ipynb").write_text(json.dumps(notebook))
    full_except(scores_by_question(grade(folder)))


@pytest.mark.parametrize(
    "content",
    [
        "",
        "\x00\x01garbage",
        '{"cells": 3}',
        '{"worksheets": [{"cells": 5}], "nbformat": 3}',  # found by the red team: was a grader error
        '{"cells": [], "metadata": {"x": ' + "9" * 5000 + "}}",  # an int Python refuses to parse: the same
    ],
    ids=["empty", "garbage", "cells-not-a-list", "worksheet-cells-not-a-list", "huge-int"],
)
def test_unreadable_notebooks(hw1, grade, tmp_path, content):
    path = tmp_path / "hw1_layers.ipynb"
    path.write_text(content)
    document = grade(path)
    assert document["score"] == 0 and "could not be graded" in document["output"]


def test_cells_turned_to_markdown_or_deleted(hw1, grade, tmp_path):
    notebook = json.loads(hw1.solution.read_text())
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if "def relu_forward" in source:
            cell["cell_type"] = "markdown"
            cell.pop("outputs", None), cell.pop("execution_count", None)
    notebook["cells"] = [c for c in notebook["cells"] if "def sigmoid_forward" not in "".join(c["source"])]
    path = tmp_path / "hw1_layers.ipynb"
    path.write_text(json.dumps(notebook))
    document = grade(path)
    totals = scores_by_question(document)
    assert totals["relu"][0] == 0 and totals["sigmoid"][0] == 0
    full_except(totals, "relu", "sigmoid", "training")
    assert "relu_forward is not defined" in feedback_for(document, "relu")


def test_huge_saved_outputs(hw1, grade, tmp_path):
    notebook = json.loads(hw1.solution.read_text())
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 20_000_000}]
    path = tmp_path / "hw1_layers.ipynb"
    path.write_text(json.dumps(notebook))
    full_except(scores_by_question(grade(path)))
    cell["outputs"][0]["text"] = "x" * 60_000_000
    path.write_text(json.dumps(notebook))
    document = grade(path)
    assert document["score"] == 0 and "clear the outputs" in document["output"]


def test_magics_and_shell_escapes(attack):
    code = "%matplotlib inline\n%time _t = 1\n!pip install numpy\n!echo hello\nfrom IPython.display import display\ndisplay('x')"
    document = attack(insert=[(RELU_CHECK, code), (RELU_CHECK, "%%capture\nprint('hidden')")])
    full_except(scores_by_question(document))
    assert "raised" not in document["output"]


# 10. a backward made of finite differences ------------------------------------------------------------------
FD_BACKWARD = """
def relu_backward(dout, cache):
    x = np.array(cache, dtype=float)
    dx = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + 1e-6
        plus = np.sum(relu_forward(x)[0] * dout)
        x[index] = saved - 1e-6
        minus = np.sum(relu_forward(x)[0] * dout)
        x[index] = saved
        dx[index] = (plus - minus) / 2e-6
    return dx
"""


def test_finite_difference_backward_earns_no_backward_points(attack):
    # finite differences at the relu check only (in the training steps they would just be slow)
    restore = "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n"
    document = attack(insert=[(RELU_CHECK, FD_BACKWARD), ("def sigmoid_forward", restore)])
    relu_tests = [t for t in document["tests"] if t["tags"][0] == "relu"]
    assert {t["name"] for t in relu_tests if t["score"] > 0} == {"relu: forward matches max(0, x)"}
    assert "finite differences" in feedback_for(document, "relu")
