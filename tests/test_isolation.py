"""Isolation wherever grading runs: a submission cannot reach the grader, another submission or
the next grading, in both modes (namespaces, and the uid-only fallback of a container that
refuses them). Each case grades the hw1 solution with an attack in it, with the real zip, as
root (CI runs as root). The README's security table lists them (classes 11 to 17).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import threading
from pathlib import Path

import pytest
from conftest import assert_valid_results, feedback_for, sandbox_accounting, scores_by_question, write_variant
from test_adversarial import AS_ROOT, FULL, PARAM_COUNT_CHECK, RELU_CHECK, RELU_IGNORES_DOUT, full_except

from autograder.grade import run_hidden_suite
from autograder.gradescope import run_zip
from autograder.results import grader_error
from autograder.sandbox.isolation import SANDBOX_UIDS, namespaces_available, processes_of
from autograder.sandbox.run import AFTER_HANG_BUDGET

pytestmark = AS_ROOT


@pytest.fixture
def mode(isolation, monkeypatch):
    """Both isolation modes (conftest.isolation), with 10 s timeouts."""
    monkeypatch.setenv("NN_AUTOGRADER_LIMITS", json.dumps({"cell_timeout": 10, "call_timeout": 10}))
    return isolation


def owned_by_sandbox_uids(*places: str, uids=SANDBOX_UIDS) -> list[str]:
    found = []
    for place in places:
        for folder, folders, files in os.walk(place):
            for name in folders + files:
                path = os.path.join(folder, name)
                try:
                    if os.lstat(path).st_uid in uids:
                        found.append(path)
                except OSError:
                    continue
    return found


def graded(hw1, tmp_path: Path, replacements=(), insert=(), name: str = "hw1_layers.ipynb") -> dict:
    notebook = write_variant(hw1.solution, tmp_path / name, list(replacements), list(insert))
    document, _ = run_zip(hw1.zip_path, notebook)
    assert_valid_results(document)
    return document


# 11. pytest configuration planted where the grader would discover it ---------------------------------
PLANT_PYTEST_CONFIG = """
import pathlib
for _folder in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        pathlib.Path(_folder, "pytest.ini").write_text("[pytest]\\naddopts = -p conftest\\n")
        pathlib.Path(_folder, "conftest.py").write_text(
            "import pathlib\\npathlib.Path('/tmp/nn-planted-conftest-ran').write_text('ran')\\n"
            "import pytest\\n"
            "@pytest.hookimpl(hookwrapper=True)\\n"
            "def pytest_runtest_makereport(item, call):\\n"
            "    outcome = yield\\n"
            "    outcome.get_result().outcome = 'passed'\\n"
        )
    except OSError:
        pass
"""


def test_planted_pytest_config_is_never_read(hw1, tmp_path, mode):
    marker = Path("/tmp/nn-planted-conftest-ran")
    marker.unlink(missing_ok=True)
    document = graded(hw1, tmp_path, [RELU_IGNORES_DOUT], insert=[(RELU_CHECK, PLANT_PYTEST_CONFIG)])
    assert scores_by_question(document)["relu"][0] < 2, "a planted conftest turned a wrong relu into full marks"
    assert not marker.exists()
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):  # and the planted files are gone
        for name in ("pytest.ini", "conftest.py"):
            path = Path(folder, name)
            assert not path.exists() or path.lstat().st_uid not in SANDBOX_UIDS, path
    clean = graded(hw1, tmp_path / "clean", [RELU_IGNORES_DOUT])  # the next grading is not affected
    assert scores_by_question(clean)["relu"] == scores_by_question(document)["relu"]


def test_the_grader_fixes_pytest_configuration_itself(tmp_path):
    """Even with a hostile pytest.ini and conftest.py right above the hidden folder, the suite runs
    with the grader's own configuration: nothing outside the hidden folder is imported."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --this-option-does-not-exist\n")
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\naddopts = --nor-this-one\n")
    (tmp_path / "conftest.py").write_text("raise SystemExit('the planted conftest was imported')\n")
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_one.py").write_text(
        textwrap.dedent(
            """
            from autograder.suite import question

            @question("one", points=1)
            def test_it():
                "runs with the grader's configuration"
            """
        )
    )
    plugin = run_hidden_suite(hidden, None, "", 0)
    assert [(r.name, r.score) for r in plugin.records] == [("one: runs with the grader's configuration", 1.0)]


def test_a_planted_package_in_the_working_folder_is_not_imported(hw1, tmp_path, monkeypatch):
    """run_autograder starts Python isolated (-I) from a known folder: an `autograder/` package or
    PYTHONPATH where grading is started from is never imported."""
    planted = tmp_path / "cwd" / "autograder"
    planted.mkdir(parents=True)
    (planted / "__init__.py").write_text("raise SystemExit('planted autograder package imported')\n")
    (planted / "grade.py").write_text("raise SystemExit('planted autograder package imported')\n")
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "cwd"))
    document, log = run_zip(hw1.zip_path, hw1.solution)
    assert "planted" not in log and document["score"] == sum(FULL.values())


# 12. one identity per concurrent grading ---------------------------------------------------------------
SPY_ON_CLASSMATES = """
import glob, os, time
time.sleep(4)  # both gradings are running now
_own = os.path.dirname(os.getcwd())  # this grading's folder
_seen = []
for _pattern in ("/tmp/nn-grading-*", "/tmp/nn-grading-*/work", "/tmp/nn-grading-*/work/*", "/tmp/nn-autograder-*/*"):
    _seen += [p for p in glob.glob(_pattern) if not p.startswith(_own)]
_read = []
for _path in _seen:
    try:
        _read.append(_path + "=" + (open(_path, errors="replace").read(50) if os.path.isfile(_path) else ",".join(os.listdir(_path))))
    except OSError:
        pass
answer_two_hidden = f"UID:{os.getuid()} READ:{'|'.join(_read)[:500]}!"
"""


def test_concurrent_gradings_have_their_own_uid_and_cannot_see_each_other(hw1, tmp_path, mode):
    documents: dict[str, dict] = {}

    def grade(student: str) -> None:
        documents[student] = graded(hw1, tmp_path / student, insert=[(PARAM_COUNT_CHECK, SPY_ON_CLASSMATES)])

    threads = [threading.Thread(target=grade, args=(student,)) for student in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = {student: feedback_for(document, "param_count") for student, document in documents.items()}
    uids = set()
    for student, feedback in seen.items():
        uid = int(feedback.split("UID:")[1].split()[0])
        assert uid in SANDBOX_UIDS, feedback
        uids.add(uid)
        assert "READ:!" in feedback, f"{student} read another grading's files: {feedback}"
    assert len(uids) == 2, "two gradings at once ran as the same uid"


# 13. nothing outlives a grading --------------------------------------------------------------------------
LEAVE_THINGS_BEHIND = """
import ctypes, os, subprocess, sys
_loop = "import time\\nfor _ in range(600): time.sleep(0.1)"
subprocess.Popen([sys.executable, "-c", _loop], env={}, start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
for _folder in ("/tmp", "/var/tmp", "/dev/shm"):
    with open(os.path.join(_folder, "nn-left-behind"), "wb") as _file:
        _file.write(b"x" * 10_000_000)
    os.makedirs(os.path.join(_folder, "nn-left-behind-folder", "deeper"), exist_ok=True)
_libc = ctypes.CDLL(None, use_errno=True)
_shm_id = _libc.shmget(0, 1 << 20, 0o1000 | 0o600)  # IPC_PRIVATE, IPC_CREAT
"""
SAY_UID = 'import os\nanswer_two_hidden = f"UID:{os.getuid()}!"'  # shows in param_count's feedback


def test_nothing_the_sandbox_starts_or_writes_outlives_grading(hw1, tmp_path, mode):
    document = graded(hw1, tmp_path, insert=[(RELU_CHECK, LEAVE_THINGS_BEHIND), (PARAM_COUNT_CHECK, SAY_UID)])
    full_except(scores_by_question(document), "param_count", why=document)
    uid = int(feedback_for(document, "param_count").split("UID:")[1].split("!")[0])
    assert uid in SANDBOX_UIDS
    # only this grading's uid: other gradings may be running on the machine
    assert processes_of(uid) == [], "a process the notebook started outlived grading"
    assert owned_by_sandbox_uids("/tmp", "/var/tmp", "/dev/shm", uids=[uid]) == []
    for place in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not os.path.exists(os.path.join(place, "nn-left-behind"))
    shared_memory = Path("/proc/sysvipc/shm").read_text().splitlines()
    header = shared_memory[0].split()
    owners = [int(row.split()[header.index("uid")]) for row in shared_memory[1:]]
    assert uid not in owners, "a System V shared memory segment outlived grading"


# 14. a forged reply on the channel -----------------------------------------------------------------------
FORGE_A_REPLY = """
def relu_forward(x):
    import json, os, struct
    arguments = open("/proc/self/cmdline", "rb").read().split(b"\\0")
    write_fd = int(arguments[arguments.index(b"autograder.sandbox.server") + 2])
    header = json.dumps({"id": 1, "ok": True, "arrays": 64}).encode()
    os.write(write_fd, struct.pack(">I", len(header)) + header + struct.pack(">Q", 250 * 2**20))
    os.write(write_fd, b"\\0" * 2**16)
    import time
    time.sleep(60)
"""


def test_a_forged_reply_costs_only_its_question(hw1, tmp_path, mode):
    restore = "def relu_forward(x):\n    return np.maximum(x, 0), x\n"
    document = graded(hw1, tmp_path, insert=[(RELU_CHECK, FORGE_A_REPLY), ("def sigmoid_forward", restore)])
    totals = scores_by_question(document)
    assert totals["relu"][0] < 2
    full_except(totals, "relu", why=document)


# 15. infrastructure faults are the grader's, never a score ------------------------------------------------
def test_a_sandbox_that_never_gets_ready_is_a_grader_error(hw1, tmp_path, monkeypatch, mode):
    monkeypatch.setenv("NN_AUTOGRADER_LIMITS", json.dumps({"start_timeout": 0.001}))
    notebook = write_variant(hw1.solution, tmp_path / "hw1_layers.ipynb")
    document, _ = run_zip(hw1.zip_path, notebook)
    assert "score" not in document and document["tests"] == []
    assert "before it was ready" in grader_error(document) and "nn-autograder doctor" in grader_error(document)
    assert "not about your code" in document["output"]
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(hw1.zip_path),
            str(notebook),
            "--out",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 3 and "GRADER ERROR" in completed.stderr


def test_an_interpreter_the_sandbox_cannot_read_is_a_grader_error(hw1, tmp_path, mode):
    """The classic: a venv made from a Python under /root (pyenv, conda), which the sandbox uid
    cannot read. The reference solution must not get a score, let alone 0."""
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    pythons = sorted(Path("/root/.pyenv/versions").glob(f"{minor}.*/bin/python{minor}"))
    if not pythons or os.stat("/root").st_mode & 0o005:
        pytest.skip("needs a Python under a /root that others cannot read (pyenv)")
    venv = tmp_path / "venv"
    subprocess.run([str(pythons[-1]), "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = next(venv.glob("lib/python*/site-packages"))
    our_site_packages = sysconfig.get_paths()["purelib"]  # numpy and this package, as installed here
    (site_packages / "nn_autograder_here.pth").write_text(f"import site; site.addsitedir({our_site_packages!r})\n")
    notebook = write_variant(hw1.solution, tmp_path / "hw1_layers.ipynb")
    document, _ = run_zip(hw1.zip_path, notebook, env={"AUTOGRADER_PYTHON": str(venv / "bin" / "python3")})
    assert "score" not in document, document.get("output")
    assert "before it was ready" in grader_error(document) or "could not start" in grader_error(document)


# 16. time: one hanging function --------------------------------------------------------------------------
def test_a_hanging_backward_costs_one_timeout(hw1, tmp_path, mode):
    notebook = write_variant(
        hw1.solution,
        tmp_path / "hw1_layers.ipynb",
        [("dx = dout * (x > 0)", "while True:\n        pass\n    dx = dout * (x > 0)")],
    )
    document, output = run_zip(hw1.zip_path, notebook)
    assert_valid_results(document)
    totals = scores_by_question(document)
    full_except(totals, "relu", "training", why=document)
    assert totals["relu"][0] == 0.5  # the forward only
    feedback = feedback_for(document, "relu")
    assert "relu_backward (defined in code cell" in feedback and "did not finish within 10 s" in feedback
    assert "while True" in feedback
    # the grader's first call times out once; every later use (the large backward, training, ...)
    # is refused at once instead of waiting 10 s again. (The notebook's own cells that call it time
    # out each: a cell's hang makes no stand-in, and notebook_timeout bounds them.)
    waiting = sandbox_accounting(output)
    assert (waiting["call timeouts"], waiting["hang seconds"]) == (1, 10), waiting
    assert waiting["refused"] >= 3, waiting


# 18. found by the red team: turning a zero into a "grader error", and fairness of the hang rules --------
FORGED_WATCHDOG_REPORT = """
def relu_backward(dout, cache):
    import os, threading
    watchdog = next(t for t in threading.enumerate() if t.name == "nn-autograder-watchdog")
    fd, request = watchdog.report_fd, watchdog.armed[0]
    watchdog.report_fd = os.open("/dev/null", os.O_WRONLY)
    report = '{"id": %d, "stack": [{"cell": Infinity, "name": "f", "line": 1e999, "seconds": 1}]}\\n' % request
    os.write(fd, report.encode())
    while True:
        pass
"""


def test_a_forged_watchdog_report_is_ignored_not_a_grader_error(hw1, tmp_path, mode):
    restore = "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n"
    document = graded(hw1, tmp_path, insert=[(RELU_CHECK, FORGED_WATCHDOG_REPORT), ("def sigmoid_forward", restore)])
    totals = scores_by_question(document)
    assert totals["relu"][0] == 0.5  # the forward only
    full_except(totals, "relu", why=document)


def test_a_cell_of_emoji_is_not_run_and_nothing_else_lost(hw1, tmp_path):
    document = graded(hw1, tmp_path, insert=[(RELU_CHECK, "# " + "\U0001f600" * 400_000)])
    full_except(scores_by_question(document), why=document)
    assert "MB of code; it was not run" in document["output"]


def test_a_slow_exploration_cell_is_skipped_and_costs_no_points(hw1, tmp_path, mode):
    """Slow on the student's own big inputs is not hung: the function keeps working for the grader."""
    explore = "big = train_two_layer_net(x_train, y_train, hidden_size=256, learning_rate=0.5, epochs=20000)"
    notebook = json.loads(hw1.solution.read_text())
    notebook["cells"].append(
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": explore}
    )
    path = tmp_path / "hw1_layers.ipynb"
    path.write_text(json.dumps(notebook))
    document, _ = run_zip(hw1.zip_path, path)
    assert document["score"] == sum(FULL.values()), document["output"]
    assert "timed out after 10 s; it was skipped" in document["output"]


GIL_HANG = """
import itertools


def relu_backward(dout, cache):
    return sum(itertools.repeat(1, 10**13))  # holds the GIL: the watchdog cannot see where it is
"""


def test_a_hang_the_watchdog_cannot_see_is_bounded_by_the_hang_budget(hw1, tmp_path, monkeypatch, mode):
    """No stand-in can be made, so every cell and call that reaches it times out: the cells are
    bounded by notebook_timeout (plus one cell's overrun), the grader's calls by hang_budget."""
    limits = {"cell_timeout": 10, "call_timeout": 10, "hang_budget": 25, "notebook_timeout": 30}
    monkeypatch.setenv("NN_AUTOGRADER_LIMITS", json.dumps(limits))
    notebook = write_variant(hw1.solution, tmp_path / "hw1_layers.ipynb", insert=[(RELU_CHECK, GIL_HANG)])
    document, output = run_zip(hw1.zip_path, notebook)
    assert_valid_results(document)
    full_except(scores_by_question(document), "relu", "training", why=document)
    waiting = sandbox_accounting(output)
    assert waiting["cell timeouts"] >= 1 and waiting["call timeouts"] >= 1, waiting
    assert waiting["hang seconds"] <= 25 + AFTER_HANG_BUDGET, waiting  # one request may start just under 25 s


FILL_THE_WORK_FOLDER = """
import os
_wrote = 0
try:
    for _i in range(20):
        with open(f"filler-{_i}", "wb") as _file:
            _file.write(b"x" * 20_000_000)
        _wrote += 20
except OSError:
    pass
"""


def test_the_work_folder_is_bounded_in_namespaces_mode(hw1, tmp_path):
    """Namespaces mode: the work folder is a size-limited tmpfs (the notebook's files copied in),
    so a notebook cannot fill the machine's disk. (uid-only mode: one container per submission.)"""
    if not namespaces_available():
        pytest.skip("namespaces are refused here")
    say = 'answer_two_hidden = f"WROTE:{_wrote}!"'
    document = graded(hw1, tmp_path, insert=[(RELU_CHECK, FILL_THE_WORK_FOLDER), (PARAM_COUNT_CHECK, say)])
    wrote = int(feedback_for(document, "param_count").split("WROTE:")[1].split("!")[0])
    assert wrote <= 80, f"{wrote} MB written to the work folder"


def test_a_dead_gradings_scratch_folder_is_removed_before_its_uid_is_used_again(tmp_path):
    """A grader killed with SIGKILL leaves nn-grading-*/work (a classmate's notebook, owned by the
    uid): the next grading that locks that uid removes it before any student code runs."""
    from autograder.sandbox.isolation import SCRATCH_PREFIX, SandboxIdentity, remove_scratch_left_by

    identity = SandboxIdentity.acquire()
    try:
        stale = tmp_path / f"{SCRATCH_PREFIX}dead"
        (stale / "work").mkdir(parents=True)
        (stale / "work" / "hw1_layers.ipynb").write_text("{}")
        os.chown(stale / "work", identity.uid, identity.gid)
        other = tmp_path / f"{SCRATCH_PREFIX}other"
        (other / "work").mkdir(parents=True)
        os.chown(other / "work", identity.uid + 1, identity.gid + 1)
        assert remove_scratch_left_by(identity.uid, tmp_path) == [str(stale)]
        assert not stale.exists() and other.exists()
    finally:
        identity.release()
