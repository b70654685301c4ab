"""A submission's notebook running in a sandbox, and the hidden tests' view of it.

- `NotebookRun`: runs a notebook's code cells in a sandbox, cell by cell with a timeout each. A
  cell that hangs or kills the process is skipped and the sandbox is started again with the cells
  before it replayed, so one bad cell costs only what depends on it.
- `StudentNamespace`: what a hidden test sees, ``student.relu_forward(x)``: a call into the
  sandbox at a question's checkpoint, returning plain data (arrays, scalars) or opaque handles.
"""

from __future__ import annotations

import ast
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.sandbox.channel import ChannelError, Handle, decode, encode
from autograder.sandbox.isolation import SandboxIdentity
from autograder.sandbox.process import Limits, Sandbox, SandboxDied, SandboxUnavailable
from autograder.sandbox.program import Program, Ref


@dataclass
class CallResult:
    """What one call into the sandbox gave: the value, the arguments as they are after the call
    (to catch functions that modify their inputs) and the round trip's time by the grader's clock."""

    value: Any
    args_after: list
    seconds: float
    output: str = ""


class StudentError(Exception):
    """A student function could not be called or raised; `message` is written for the student."""

    def __init__(self, message: str, missing: bool = False, timed_out: bool = False):
        super().__init__(message)
        self.message = message
        self.missing = missing
        self.timed_out = timed_out


@dataclass
class Cell:
    """A code cell of the submission: its index among code cells, source and checkpoints."""

    index: int
    source: str
    checkpoints: list[str] = field(default_factory=list)


@dataclass
class CellOutcome:
    status: str  # "ok", "error", "timeout", "died", "skipped"
    message: str = ""


AFTER_HANG_BUDGET = 5.0  # seconds a request gets once timeouts have used up the hang budget
ANY_QUESTION = "*"  # in failed_calls: a function not called again for any question
MAX_CELL_BYTES = 2 * 1024 * 1024  # a cell's source as JSON, well under the channel's header limit


class NotebookRun:
    """A submission's notebook running in a sandbox, restarted as needed, serving calls.

    Time is bounded four ways: each cell and each call has a timeout; a function seen hanging in a
    call of the grader's (by the sandbox's Watchdog) is compiled as a stand-in that raises at once
    wherever it is used later, so it costs one timeout, not one per cell and test; a call that
    timed out or killed the sandbox is not made again; after a call of the grader's timed out, no
    request may run past what is left of `limits.hang_budget` (then a few seconds each); cells stop
    at `limits.notebook_timeout`; and everything stops at `limits.total_timeout`.
    """

    def __init__(
        self,
        cells: list[Cell],
        workdir: Path,
        limits: Limits | None = None,
        log_path: Path | None = None,
        identity: SandboxIdentity | None = None,
    ):
        self.cells = cells
        self.workdir = workdir
        self.limits = limits or Limits()
        self.log_path = log_path or (workdir.parent / f"{workdir.name}-sandbox.log")
        self.identity = identity
        self.outcomes: dict[int, CellOutcome] = {}
        self.first_durations: dict[int, float] = {}
        self.sandbox: Sandbox | None = None
        self.restarts = 0
        self.last_failure = ""
        self.started_at: float | None = None
        self.failed_calls: dict[
            tuple[str | None, str], tuple[str, bool]
        ] = {}  # timed out or killed: (message, timed out)
        self.hung: dict[tuple[int, str], str] = {}  # (cell index, function name) -> what happened
        self.hang_seconds = 0.0  # time lost to timeouts of calls so far (not of cells)
        self.call_timeouts = 0  # grader calls that ran out of time
        self.refused_calls = 0  # calls refused at once: their function timed out or died before

    def _time_left(self, limit: float) -> float:
        """`limit`, cut to a few seconds once timeouts used up the hang budget, and to what is
        left of the total budget; 0 when that is used up."""
        if self.hang_seconds > 0:  # after a hang, no request may overrun what is left of the budget
            limit = min(limit, max(AFTER_HANG_BUDGET, self.limits.hang_budget - self.hang_seconds))
        if self.started_at is None:
            return limit
        return max(0.0, min(limit, self.started_at + self.limits.total_timeout - time.monotonic()))

    # -- running the cells ---------------------------------------------------------------------
    def ensure_running(self) -> Sandbox:
        """A live sandbox with every runnable cell executed; raises SandboxDied if impossible,
        SandboxUnavailable if the very first sandbox cannot start (the grader's fault)."""
        while self.sandbox is None:
            if self.restarts > self.limits.max_restarts:
                raise SandboxDied(f"the notebook's process died {self.restarts} times; last: {self.last_failure}")
            if self.started_at is not None and self._time_left(1.0) <= 0:
                raise SandboxDied(f"the grading time budget of {self.limits.total_timeout:g} s is used up")
            self.restarts += 1
            sandbox = Sandbox(self.workdir, self.limits, self.log_path, self.identity)
            try:
                sandbox.start()
            except SandboxUnavailable as problem:
                if self.started_at is None:
                    raise
                raise SandboxDied(f"could not be restarted ({problem})") from None
            self.sandbox = sandbox
            self.started_at = self.started_at or time.monotonic()
            self._run_cells()
        return self.sandbox

    def describe_cell(self, cell: Cell) -> str:
        first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
        return f"code cell {cell.index + 1} ({first[:60]!r})"

    def _run_cells(self) -> None:
        hung = [[cell, name, message] for (cell, name), message in self.hung.items()]
        for cell in self.cells:
            previous = self.outcomes.get(cell.index)
            if previous is not None and previous.status in ("timeout", "died", "skipped"):
                continue
            limit = self.limits.cell_timeout
            replay = cell.index in self.first_durations
            if replay:  # it ran before, so it should run as fast
                limit = min(limit, 2 * self.first_durations[cell.index] + 5)
            budget = self._time_left(limit)
            # notebook_timeout bounds the first run of the cells; replays after a restart are bounded
            # by what they took before (else a restart late in a grading would leave no names at all)
            out_of_time = not replay and time.monotonic() - self.started_at > self.limits.notebook_timeout
            if out_of_time or budget <= 0:
                self.outcomes[cell.index] = CellOutcome(
                    "skipped", f"{self.describe_cell(cell)} was not run: the notebook used up its time"
                )
                continue
            if len(json.dumps(cell.source)) > MAX_CELL_BYTES:  # as it would cross the channel
                message = f"{self.describe_cell(cell)} is over {MAX_CELL_BYTES // 2**20} MB of code; it was not run"
                self.outcomes[cell.index] = CellOutcome("skipped", message)
                continue
            request = {"op": "run_cell", "cell": cell.index, "source": cell.source, "checkpoints": cell.checkpoints}
            started = time.monotonic()
            try:
                reply, _ = self.sandbox.request(dict(request, hung=hung), [], timeout=budget)
            except SandboxDied as death:
                # A cell that times out is skipped; its hang makes no stand-in: the student chose
                # its inputs, and a function slow on those may be fine on the grader's. Nor does it
                # draw on the hang budget, which protects the grader's calls: the notebook's cells
                # are bounded by `notebook_timeout` (a slow training cell must not leave the
                # grader's checks a few seconds each).
                self.sandbox = None
                status = "timeout" if death.timed_out else "died"
                message = f"{self.describe_cell(cell)} {death}; it was skipped"
                self.outcomes[cell.index] = CellOutcome(status, message)
                self.last_failure = message
                return
            self.first_durations.setdefault(cell.index, time.monotonic() - started)
            if reply.get("fatal"):  # out of memory: restart without this cell
                self.outcomes[cell.index] = CellOutcome(
                    "died", f"{self.describe_cell(cell)} ran out of memory ({reply.get('error')}); it was skipped"
                )
                self.last_failure = self.outcomes[cell.index].message
                self.sandbox.kill()
                self.sandbox = None
                return
            status = "ok" if reply.get("ok") else "error"
            self.outcomes[cell.index] = CellOutcome(status, str(reply.get("error") or ""))

    def _hang(self, death: SandboxDied, limit: float, asked: float, remember: bool = True) -> str:
        """After a call into the sandbox died: count a timeout against the hang budget, and if the
        Watchdog saw one notebook function running for most of that time, remember it as hung:
        from the next start on it is a stand-in that raises at once (unless not `remember`).
        Returns what to tell the student, or "". The report is untrusted: anything odd in it is
        ignored."""
        if not death.timed_out:
            return ""
        self.hang_seconds += limit
        self.call_timeouts += 1
        cut = limit < asked - 0.01  # the grader asked for `asked` s; earlier timeouts left less
        for frame in death.stack[:50]:  # innermost first
            try:
                index, name, line, seconds = frame["cell"], frame["name"], frame["line"], frame["seconds"]
                if not (type(index) is int and type(line) is int and type(name) is str):
                    continue
                if type(seconds) not in (int, float) or not seconds >= 0.5 * limit:
                    continue
            except Exception:  # noqa: BLE001 - a malformed report is no report
                continue
            cell = next((c for c in self.cells if c.index == index), None)
            if cell is None or name == "<module>" or not name.isidentifier():
                return ""
            lines = cell.source.splitlines()
            line += _leading_blank_lines(lines)  # IPython drops them before compiling: the cell's own numbering
            text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            within = f"the {limit:g} s left (earlier timeouts used up the grading's time)" if cut else f"{limit:g} s"
            message = (
                f"{name} (defined in code cell {index + 1}) did not finish within {within}; it was still "
                f"running line {line}{f' ({text[:80]})' if text else ''}{_enclosing_loop(cell.source, line)}"
            )
            if not remember:
                return message
            message += ". The grader does not run it again: every later use of it fails at once"
            self.hung[(index, name)] = message
            return message
        return ""

    def problems(self) -> list[str]:
        """Human-readable notes on cells that timed out, died, raised or were skipped."""
        notes = []
        for cell in self.cells:
            outcome = self.outcomes.get(cell.index)
            if outcome is None or outcome.status == "ok":
                continue
            if outcome.status == "error":
                notes.append(f"{self.describe_cell(cell)} raised {outcome.message}")
            else:
                notes.append(outcome.message)
        notes += [message for message in self.hung.values() if not any(message in note for note in notes)]
        return notes

    def accounting(self) -> str:
        """One line for the instructors' log: where the grading's time went to waiting."""
        cells = sum(outcome.status == "timeout" for outcome in self.outcomes.values())
        return (
            f"sandbox: {self.restarts} start(s), {cells} cell timeout(s), {self.call_timeouts} call timeout(s)"
            f" ({self.hang_seconds:.0f} s), {self.refused_calls} call(s) refused at once"
        )

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.kill()
            self.sandbox = None

    # -- calls ---------------------------------------------------------------------------------
    def call(
        self,
        question: str | None,
        name: str,
        args: tuple,
        kwargs: dict,
        timeout: float | None = None,
        keep: tuple = (),
        get: bool = False,
        speed_probe: bool = False,
    ) -> CallResult:
        """Call the student's `name` with the names as they stood at `question`'s checkpoint.

        keep: positions in a returned tuple to hold in the sandbox as handles (a cache).
        get: fetch the value of the variable `name` instead of calling it.
        speed_probe: a call at a size chosen to time it: a timeout says "too slow at this size",
        not "never returns", so the function is neither made a stand-in nor refused later.
        The time in the result is measured here, in the grader: the sandbox could lie about it."""

        def fields(sandbox: Sandbox, arrays: list) -> dict:
            return {
                "op": "call",
                "name": name,
                "args": [encode(_check_generation(a, sandbox), arrays, None) for a in args],
                "kwargs": {k: encode(_check_generation(v, sandbox), arrays, None) for k, v in kwargs.items()},
                "keep": list(keep),
                "get": get,
            }

        reply, reply_arrays, seconds, generation = self._exchange(question, name, fields, timeout, speed_probe)
        try:
            value = decode(reply["value"], reply_arrays, generation)
            args_after = decode(reply["args_after"], reply_arrays, generation)
            if not isinstance(args_after, list):
                raise ChannelError("the arguments after the call are not a list")
        except Exception as error:  # noqa: BLE001 - any decoding problem: the sandbox misbehaved
            raise self._malformed(question, name, error) from None
        return CallResult(value, args_after, seconds, str(reply.get("output", "")))

    def run_program(
        self,
        question: str | None,
        program: Program,
        returns: list,
        timeout: float | None = None,
        speed_probe: bool = False,
    ) -> list:
        """Run `program` in the sandbox in one round trip; the values of the `returns` refs.
        speed_probe: as for `call` (a program that times a step: a timeout makes no stand-in and
        leaves the program's label callable)."""

        def fields(sandbox: Sandbox, arrays: list) -> dict:
            return {
                "op": "program",
                "steps": program.encoded_steps(arrays),
                "returns": [ref.slot for ref in returns],
                "max_depth": program.max_depth,
            }

        reply, reply_arrays, _, generation = self._exchange(question, program.label, fields, timeout, speed_probe)
        try:
            values = decode(reply["values"], reply_arrays, generation)
            if not isinstance(values, list):
                raise ChannelError("the values are not a list")
            return values
        except Exception as error:  # noqa: BLE001 - any decoding problem: the sandbox misbehaved
            raise self._malformed(question, program.label, error) from None

    def _malformed(self, question: str | None, label: str, error: Exception) -> StudentError:
        """A reply the grader cannot read: the sandbox broke the protocol, so it is not trusted
        with anything else; it is killed and started afresh for the next request."""
        if self.sandbox is not None:
            self.sandbox.kill()
            self.sandbox = None
        message = f"{label} sent back something the grader cannot read ({str(error)[:200]})"
        self.last_failure = message
        self.failed_calls[(question, label)] = (message, False)
        return StudentError(message)

    def _exchange(
        self, question: str | None, label: str, fields, timeout: float | None, speed_probe: bool = False
    ) -> tuple[dict, list, float, int]:
        """One request at `question`'s checkpoint: (reply, its arrays, seconds, sandbox generation).
        Raises StudentError for timeouts, deaths and errors in student code. After a speed probe's
        timeout the function stays callable (see `call`)."""
        for key in ((question, label), (ANY_QUESTION, label)):
            if key in self.failed_calls:
                message, timed_out = self.failed_calls[key]
                self.refused_calls += 1
                raise StudentError(message + " (not called again)", timed_out=timed_out)
        try:
            sandbox = self.ensure_running()
        except SandboxDied as death:
            raise StudentError(f"{label} could not be called: {death}") from None
        arrays: list = []
        header = dict(fields(sandbox, arrays), question=question)
        asked = timeout or self.limits.call_timeout
        limit = self._time_left(asked)
        if limit <= 0:
            raise StudentError(f"{label} was not called: the grading time budget is used up", timed_out=True)
        started = time.monotonic()
        try:
            reply, reply_arrays = sandbox.request(header, arrays, timeout=limit)
        except SandboxDied as death:
            self.sandbox = None
            hang = self._hang(death, limit, asked, remember=not speed_probe)
            if hang.startswith(f"{label} "):  # the function called hung: the hang says it all
                message = hang
            else:  # it died, or a function it called hung
                message = f"{label} {death}" + (f": {hang}" if hang else "")
            timed_out = death.timed_out and not hang  # a hang message already says what happened
            self.last_failure = message
            if speed_probe and death.timed_out:  # too slow at the probe's size only: smaller calls still run
                raise StudentError(message, timed_out=timed_out) from None
            self.failed_calls[(question, label)] = (message, timed_out)  # it killed the sandbox: not again
            if death.timed_out and not hang:  # no stand-in to make it fail fast: no question calls it again
                self.failed_calls[(ANY_QUESTION, label)] = (message, True)
            raise StudentError(message, timed_out=timed_out) from None
        seconds = time.monotonic() - started
        if not isinstance(reply.get("ok"), bool):
            raise self._malformed(question, label, ChannelError("no 'ok' in the answer"))
        if not reply["ok"]:
            missing = bool(reply.get("missing"))
            message = f"{label} raised {str(reply.get('error'))[:1000]}"
            if missing and self.problems():
                message += f" (while running your notebook: {self.problems()[0]})"
            raise StudentError(message, missing=missing)
        return reply, reply_arrays, seconds, sandbox.generation


def _leading_blank_lines(lines: list[str]) -> int:
    """How many blank lines IPython removes from the top of a cell before compiling it."""
    return next((i for i, line in enumerate(lines) if line.strip()), 0)


def _enclosing_loop(source: str, line: int) -> str:
    """What the code around `line` suggests, worded by what it is: inside a `while` loop, a loop
    that may never end; inside a `for` loop, a loop that may be far too slow; else nothing. (A
    function still running proves neither an endless loop nor slowness.)"""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ""
    loops = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.While, ast.For)) and node.lineno <= line <= (node.end_lineno or node.lineno)
    ]
    if not loops:
        return ""
    innermost = max(loops, key=lambda node: node.lineno)
    if isinstance(innermost, ast.While):
        return f", inside the while loop of line {innermost.lineno}: does its condition ever become false?"
    return f", inside the for loop of line {innermost.lineno}: a loop can be far too slow at the grader's sizes"


def _check_generation(value: Any, sandbox: Sandbox) -> Any:
    if isinstance(value, Handle) and value.generation != sandbox.generation:
        raise StudentError("an object from before the notebook's process was restarted cannot be used")
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_generation(item, sandbox)
    return value


class StudentNamespace:
    """The submission's names at one question's checkpoint: ``student.relu_forward(x)``.

    Attribute access gives a callable that returns the plain value; `call` gives a `CallResult`
    (value, arguments after the call, time taken). Errors raise `StudentError`.
    """

    def __init__(self, run: NotebookRun, question: str | None):
        self._run = run
        self._question = question

    def call(
        self,
        name: str,
        *args: Any,
        timeout: float | None = None,
        keep: tuple = (),
        speed_probe: bool = False,
        **kwargs: Any,
    ) -> CallResult:
        return self._run.call(self._question, name, args, kwargs, timeout=timeout, keep=keep, speed_probe=speed_probe)

    def value(self, name: str) -> Any:
        """The plain value of the variable `name` (a numeric answer), not a call."""
        return self._run.call(self._question, name, (), {}, get=True).value

    def run(
        self, program: Program, returns: list[Ref], timeout: float | None = None, speed_probe: bool = False
    ) -> list:
        """Run a `Program` and return the plain values of `returns` (objects come back as handles)."""
        return self._run.run_program(self._question, program, returns, timeout=timeout, speed_probe=speed_probe)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def function(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, *args, **kwargs).value

        function.__name__ = name
        return function
