"""`nn-autograder doctor`: passes on a machine that can grade, and FAILs with the fix when the
sandbox uid cannot run the grader's Python (simulated with a copy of /usr/bin/python3 in a folder
only root may enter, as a venv made from a Python under /root would be)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder import doctor
from autograder.sandbox.isolation import SandboxIdentity

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox uid exists only when the grader is root")
CHECKS = [
    "root",
    "sandbox uids",
    "uid locks",
    "leftover processes",
    "interpreter",
    "no passwd entry",
    "limits",
    "namespaces",
    "temporary places",
    "end-to-end",
]


def run_doctor(*options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "autograder", "doctor", *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture
def unreadable_python():
    folder = tempfile.mkdtemp(prefix="doctor-test-")  # mode 0700: nobody but root gets in
    python = Path(folder) / "python3"
    shutil.copy2(os.path.realpath("/usr/bin/python3"), python)
    yield str(python)
    shutil.rmtree(folder)


@pytest.fixture
def identity():
    taken = SandboxIdentity.acquire()  # None when not root
    yield taken
    if taken is not None:
        taken.release()


def test_doctor_passes_on_this_machine():
    completed = run_doctor()
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].split() == ["check", "status", "found"]
    for check in CHECKS:
        assert any(line.startswith(check + "  ") for line in lines), check
    assert "FAIL" not in completed.stdout and "this machine can grade" in completed.stdout


def test_json_lists_every_check():
    completed = run_doctor("--json")
    assert completed.returncode == 0, completed.stderr
    rows = json.loads(completed.stdout)
    assert [row["check"] for row in rows] == CHECKS
    assert all(set(row) == {"check", "status", "found", "fix"} for row in rows)
    assert {row["status"] for row in rows} <= {"ok", "WARN", "skip"}
    if os.geteuid() == 0:
        ok = {row["check"] for row in rows if row["status"] == "ok"}
        assert {"root", "interpreter", "no passwd entry", "limits", "end-to-end"} <= ok


@AS_ROOT
def test_an_interpreter_the_sandbox_uid_cannot_run_fails_the_interpreter_check(unreadable_python, identity):
    result = doctor.check_interpreter(unreadable_python, identity)
    assert result.status == "FAIL"
    assert "Permission denied" in result.found
    assert f"{Path(unreadable_python).parent} is drwx------" in result.found  # which folder is in the way
    assert result.fix == doctor.FIX_INTERPRETER


@AS_ROOT
@pytest.mark.parametrize("mode", ["namespaces", "uid"])
def test_an_interpreter_the_sandbox_uid_cannot_run_fails_end_to_end(unreadable_python, mode, monkeypatch):
    if mode == "uid":
        monkeypatch.setenv("NN_AUTOGRADER_NAMESPACES", "0")
    result = doctor.check_end_to_end(unreadable_python)
    assert result.status == "FAIL"
    assert unreadable_python in result.found
    assert doctor.FIX_INTERPRETER in result.fix
    if mode == "uid":  # Gradescope's mode: the uid cannot even start it
        assert "Permission denied" in result.found


@AS_ROOT
def test_doctor_with_such_an_interpreter_exits_1(unreadable_python, capsys):
    assert doctor.doctor(as_json=True, interpreter=unreadable_python) == 1
    statuses = {row["check"]: row["status"] for row in json.loads(capsys.readouterr().out)}
    assert statuses["interpreter"] == statuses["end-to-end"] == "FAIL"
    assert statuses["root"] == statuses["sandbox uids"] == statuses["temporary places"] == "ok"


def test_a_limit_the_child_cannot_set_is_named(identity, monkeypatch):
    monkeypatch.setenv("NN_AUTOGRADER_LIMITS", json.dumps({"open_files": 2**40}))  # above any hard limit
    result = doctor.check_limits(sys.executable, identity)
    assert result.status == "FAIL"
    assert "RLIMIT_NOFILE" in result.found and "NN_AUTOGRADER_LIMITS" in result.fix


def test_the_report_shows_each_fix_under_its_problem():
    results = [
        doctor.Result("root", "ok", "running as root"),
        doctor.Result("interpreter", "FAIL", "Permission denied", doctor.FIX_INTERPRETER),
    ]
    report = doctor.format_report(results).splitlines()
    assert report[2].startswith("interpreter  FAIL") and report[3].strip().startswith("fix: install the grader")
    assert report[-1] == "this machine cannot grade: 1 ok, 1 FAIL"
