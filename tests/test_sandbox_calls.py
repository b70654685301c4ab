"""What the sandbox tells the grader about a student's call: recursion under `Program(max_depth=...)`
and the shapes behind a shape error."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.sandbox import NotebookRun, Program
from autograder.sandbox.process import Limits
from autograder.sandbox.run import Cell, StudentError

NOTEBOOK = """
import sys
import numpy as np

def recursive(n):
    return 0 if n == 0 else 1 + recursive(n - 1)

def iterative(n):
    total = 0
    for _ in range(n):
        total += 1
    return total

saved_setter = sys.setrecursionlimit

def raises_then_restores(n):
    before = sys.getrecursionlimit()
    saved_setter(10**6)
    result = recursive(n)
    saved_setter(before)
    return result

def raises_the_limit(n):
    sys.setrecursionlimit(10**6)
    return recursive(n)

def recursive_in_a_thread(n):
    import threading
    result = []

    def work():
        saved_setter(10**6)
        result.append(recursive(n))
        saved_setter(1000)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return result[0]

def recursive_in_a_raw_thread(n):
    import _thread
    result, done = [], _thread.allocate_lock()
    done.acquire()

    def work():
        saved_setter(10**6)
        result.append(recursive(n))
        saved_setter(1000)
        done.release()

    _thread.start_new_thread(work, ())
    done.acquire()
    return result[0]

def iterative_in_a_thread(n):
    import threading
    result = []
    thread = threading.Thread(target=lambda: result.append(iterative(n)))
    thread.start()
    thread.join()
    return result[0]

def silences_the_profiler(n):
    sys.setprofile(None)
    return iterative(n)

def linear_forward(x, W, b):
    return x @ W + b, (x, W, b)

from collections import OrderedDict, defaultdict, namedtuple

Forward = namedtuple("Forward", "out cache")
Cache = namedtuple("Cache", "x W")

def forward_as_namedtuple(x, W):
    return Forward(x @ W, Cache(x, W))

def backward_from_namedtuple(dout, cache):
    return dout @ cache.W.T

def grads_as_ordered_dict(x):
    grads = defaultdict(float)
    grads["W1"] = 2 * x
    return 1.5, OrderedDict(grads)

def object_array(x):
    return np.array(list(x), dtype=object)

sys.setrecursionlimit(10**6)  # at notebook level: the check pins the limit anyway
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sandbox") / "work"
    workdir.mkdir()
    notebook = NotebookRun([Cell(0, NOTEBOOK)], workdir)
    yield notebook
    notebook.close()


def deep(run: NotebookRun, name: str, depth: int = 5000, max_depth: int | None = 200) -> int:
    program = Program(name, max_depth=max_depth)
    return run.run_program(None, program, [program.call(name, depth)])[0]


def test_a_loop_passes_and_recursion_fails_whatever_the_notebook_did_to_the_limit(run):
    assert deep(run, "iterative") == 5000
    with pytest.raises(StudentError, match="RecursionError"):
        deep(run, "recursive")
    assert deep(run, "recursive", max_depth=None) == 5000  # without the watch the raised limit holds


@pytest.mark.parametrize("name", ["raises_the_limit", "raises_then_restores"])
def test_raising_the_recursion_limit_inside_the_call_is_seen(run, name):
    with pytest.raises(StudentError, match="recursion limit|nested"):
        deep(run, name)


def test_recursion_that_restores_the_limit_is_measured_by_its_depth(run):
    with pytest.raises(StudentError, match="RecursionError") as raised:
        deep(run, "raises_then_restores", depth=500)
    assert "nested" in raised.value.message or "recursion limit" in raised.value.message


@pytest.mark.parametrize("name", ["recursive_in_a_thread", "recursive_in_a_raw_thread"])
def test_recursion_in_a_thread_is_measured_too(run, name):
    """Red team (hw2): a recursive sort in a thread that raised the limit there and restored it
    before joining got full marks."""
    with pytest.raises(StudentError, match="nested"):
        deep(run, name)
    assert deep(run, "iterative_in_a_thread") == 5000  # a thread that does not recurse is fine


def test_removing_the_profile_hook_is_seen(run):
    with pytest.raises(StudentError, match="setprofile"):
        deep(run, "silences_the_profiler")


def test_a_shape_error_names_the_shapes_the_function_received(run):
    with pytest.raises(StudentError) as raised:
        run.call(None, "linear_forward", (np.ones((4, 5)), np.ones((3, 5)), np.ones(3)), {})
    assert "matmul" in raised.value.message
    assert "It received x (4, 5), W (3, 5), b (3,)." in raised.value.message


def test_namedtuples_and_dict_subclasses_arrive_as_the_tuples_and_dicts_they_are(run):
    x, W = np.ones((2, 3)), np.arange(12.0).reshape(3, 4)
    out, cache = run.call(None, "forward_as_namedtuple", (x, W), {}, keep=(1,)).value
    assert type(out) is np.ndarray and type(cache).__name__ == "Handle"  # the cache stays in the sandbox
    dx = run.call(None, "backward_from_namedtuple", (np.ones((2, 4)), cache), {}).value  # cache.W still works
    np.testing.assert_array_equal(dx, np.ones((2, 4)) @ W.T)
    loss, grads = run.call(None, "grads_as_ordered_dict", (x,), {}).value
    assert type(grads) is dict and list(grads) == ["W1"]
    np.testing.assert_array_equal(grads["W1"], 2 * x)


def test_an_object_array_is_described_by_its_dtype_and_shape(run):
    from autograder.checks import CheckFailed, expect_array

    value = run.call(None, "object_array", (np.ones(3),), {}).value
    with pytest.raises(
        CheckFailed, match=r"dx is a numpy array of dtype object and shape \(3,\), expected a plain float64"
    ):
        expect_array(value, (3,), "f", "dx")


SLOW_NOTEBOOK = [
    """
import time

def slow_but_finishes(seconds):
    time.sleep(seconds)
    return seconds

def never_ends(n):
    while n > 0:
        n = n + 1
    return n

def elementwise(n):
    total = 0.0
    for i in range(n):
        for j in range(n):
            total += (i * j) % 7
    return total
""",
    "while True:\n    pass",
    "while True:\n    pass",
]


@pytest.fixture
def slow_run(tmp_path, monkeypatch):
    """Two cells that hang (6 s of cell timeouts) before the grader's calls, with a hang budget of 4 s."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    limits = Limits(cell_timeout=3, call_timeout=8, hang_budget=4)
    notebook = NotebookRun([Cell(i, source) for i, source in enumerate(SLOW_NOTEBOOK)], workdir, limits)
    yield notebook
    notebook.close()


def test_cells_that_time_out_leave_the_grader_its_full_call_time(slow_run):
    """Red-team F6: a notebook's own slow cells used up the hang budget, so a correct but slow
    function got 5 s in the grader's call and was called hung."""
    assert slow_run.call(None, "slow_but_finishes", (6,), {}).value == 6
    assert [slow_run.outcomes[i].status for i in (1, 2)] == ["timeout", "timeout"]


def test_a_hang_is_worded_by_the_loop_it_was_in(slow_run):
    with pytest.raises(StudentError) as stuck:
        slow_run.call(None, "never_ends", (1,), {})
    assert "did not finish within 8 s" in stuck.value.message
    assert "inside the while loop of line 9: does its condition ever become false?" in stuck.value.message
    with pytest.raises(StudentError) as slow:
        slow_run.call(None, "elementwise", (10**6,), {})
    assert "inside the for loop of line 16" in slow.value.message
    assert "far too slow" in slow.value.message and "endless" not in slow.value.message
    assert (
        "the 5 s left (earlier timeouts used up the grading's time)" in slow.value.message
    )  # 8 s of a 4 s budget gone


def test_a_short_timeout_the_grader_chose_is_not_called_time_left(slow_run):
    """Speed probes ask for short timeouts on purpose: 'the s left' is said only when earlier
    timeouts cut the call's time."""
    with pytest.raises(StudentError) as slow:
        slow_run.call(None, "slow_but_finishes", (6,), {}, timeout=2)
    assert "did not finish within 2 s;" in slow.value.message and "left" not in slow.value.message


def test_a_speed_probe_that_runs_out_of_time_leaves_the_function_usable(slow_run):
    """Red-team B4: a timeout at the size chosen to time a function (a slow but correct loop, or
    finite differences there) made it a stand-in, which then failed the training question too."""
    with pytest.raises(StudentError) as slow:
        slow_run.call(None, "elementwise", (10**6,), {}, timeout=2, speed_probe=True)
    assert "did not finish within 2 s" in slow.value.message and "does not run it again" not in slow.value.message
    assert slow_run.call("training", "elementwise", (3,), {}).value == 9.0  # small sizes still run
    with pytest.raises(StudentError):  # an ordinary call that hangs: a stand-in from then on
        slow_run.call(None, "elementwise", (10**6,), {}, timeout=2)
    with pytest.raises(StudentError, match="does not run it again"):
        slow_run.call("training", "elementwise", (3,), {})


def test_a_restart_after_the_notebooks_time_still_replays_its_cells(tmp_path):
    """notebook_timeout bounds the first run of the cells; a restart late in a grading (after a
    call hung) replays the cells that ran, or every later question would find no names at all."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    cells = ["def f(x):\n    return x + 1\n\ndef g(x):\n    while True:\n        pass", "import time\ntime.sleep(3)"]
    limits = Limits(cell_timeout=10, call_timeout=3, notebook_timeout=2)
    run = NotebookRun([Cell(i, source) for i, source in enumerate(cells)], workdir, limits)
    try:
        assert run.call(None, "f", (1,), {}).value == 2
        with pytest.raises(StudentError):
            run.call(None, "g", (1,), {})
        assert run.call(None, "f", (2,), {}).value == 3  # after the restart
    finally:
        run.close()


def test_a_question_is_graded_on_its_arrays_as_they_were_at_its_check(tmp_path):
    """A later cell that changes an array in place (xor_b1[0] = 0) or rebinds a global does not
    change what an earlier question is graded on (hw3 red team)."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    cells = [
        "import numpy as np\nTOL = None\nweights = {'b1': np.zeros(2)}\nalias = weights['b1']\n"
        "def tol():\n    return TOL\ndef b1():\n    return weights['b1']",
        "pass",
        "TOL = 1.0\nweights['b1'][0] = 5.0",
    ]
    run = NotebookRun([Cell(0, cells[0]), Cell(1, cells[1], ["q"]), Cell(2, cells[2])], workdir)
    try:
        assert run.call("q", "tol", (), {}).value is None
        assert run.call("q", "b1", (), {}).value.tolist() == [0.0, 0.0]
        assert run.call(None, "b1", (), {}).value.tolist() == [5.0, 0.0]  # the notebook's end
        program = Program("alias")
        same = program.call("b1")
        assert run.run_program("q", program, [same])[0].tolist() == [0.0, 0.0]
    finally:
        run.close()


def test_a_program_speed_probe_that_runs_out_of_time_leaves_the_program_usable(slow_run):
    """hw2's wide-graph check times one backward() in a program of its own: a timeout there must
    not make the student's function a stand-in nor refuse later programs of that label."""
    program = Program("timed")
    with pytest.raises(StudentError) as slow:
        slow_run.run_program(None, program, [program.call("elementwise", 10**6)], timeout=2, speed_probe=True)
    assert "did not finish within 2 s" in slow.value.message and "does not run it again" not in slow.value.message
    program = Program("timed")
    assert slow_run.run_program("training", program, [program.call("elementwise", 3)]) == [9.0]


CHANGED_OUTPUTS = """
import numpy as np

def layer(x):
    return x * 3.0, {"g": x.copy()}

def uses_layer(x):
    out, grads = layer(x)
    return out, grads["g"]

def uses_layer_by_keyword(x):
    return layer(x=x)

class Node:
    def __init__(self, data, children=(), op=""):
        self.data, self.grad, self.children, self._backward = data, 0.0, children, lambda: None
"""


def test_noise_reaches_callers_by_name_and_the_function_is_restored(tmp_path):
    """Program.add_noise replaces a function for the rest of one program: callers that use its name
    see the change (also with keyword calls), the noise is what noise_draws gives, and the next
    program sees the function as it was."""
    from autograder.checks import noise_draws

    workdir = tmp_path / "work"
    workdir.mkdir()
    run = NotebookRun([Cell(0, CHANGED_OUTPUTS)], workdir)
    x = np.arange(3.0)
    try:
        program = Program("noisy")
        program.add_noise("layer", 1, 123, 0.5)
        first, second = program.call("uses_layer", x), program.call("uses_layer_by_keyword", x=x)
        (_, g1), (_, g2) = run.run_program(None, program, [first, second])
        draw = noise_draws(123, 0.5)
        assert np.array_equal(g1, draw({"g": x})["g"]) and np.array_equal(g2["g"], draw({"g": x})["g"])
        program = Program("restored")
        assert run.run_program(None, program, [program.call("uses_layer", x)])[0][1].tolist() == x.tolist()
    finally:
        run.close()


def test_keyed_noise_depends_on_the_inputs_not_on_the_calls_before(tmp_path):
    """With a key, the change is drawn from the keyed arguments' bytes (also when passed by keyword):
    an extra call with other inputs in between leaves the change of the same inputs as it was, and
    the grader's keyed_noise gives the same; the calls are counted."""
    from autograder.checks import keyed_noise

    workdir = tmp_path / "work"
    workdir.mkdir()
    run = NotebookRun([Cell(0, CHANGED_OUTPUTS)], workdir)
    x, other = np.arange(3.0), np.ones(3)
    try:
        program = Program("keyed")
        program.add_noise("layer", 1, 7, 0.5, key=[0])
        first, _, again = (program.call("uses_layer", v) for v in (x, other, x))
        by_keyword = program.call("uses_layer_by_keyword", x=x)
        calls = program.noise_calls("layer")
        (_, g1), _, (_, g2), (_, g3), count = run.run_program(None, program, [first, _, again, by_keyword, calls])
        expected = keyed_noise(7, 0.5)({"g": x}, [x])["g"]
        assert np.array_equal(g1, expected) and np.array_equal(g2, expected) and np.array_equal(g3["g"], expected)
        assert count == 4 and not np.array_equal(expected, x)
    finally:
        run.close()


def test_a_node_of_the_graders_counts_its_backward_calls(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    run = NotebookRun([Cell(0, CHANGED_OUTPUTS)], workdir)
    try:
        program = Program("node")
        a = program.call("Node", 2.0)
        out = program.node("Node", 5.0, [a], [3.0], "grader")
        program.set(out, "grad", 2.0)
        program.method(out, "_backward")
        program.method(out, "_backward")
        grad, calls = run.run_program(None, program, [program.get(a, "grad"), program.backward_calls(out)])
        assert (grad, calls) == (12.0, 2)
    finally:
        run.close()
