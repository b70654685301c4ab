"""The grader's side of the sandbox: start it, run a notebook in it, call student functions.

Three layers, each usable on its own:

- `Sandbox`: one sandbox process (``autograder.sandbox_main``) in its own session, with resource
  limits, dropped to an unprivileged user when the grader is root, in a fresh network namespace
  when the platform allows. Requests have timeouts; a late or dead sandbox is killed whole.
- `NotebookRun`: runs a notebook's code cells in a sandbox, cell by cell with a timeout each. A
  cell that hangs or kills the process is skipped and the sandbox is started again with the cells
  before it replayed, so one bad cell costs only what depends on it.
- `StudentNamespace`: what a hidden test sees, ``student.relu_forward(x)``: a call into the
  sandbox at a question's checkpoint, returning plain data (arrays, scalars) or opaque handles.
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.channel import ChannelError, ChannelTimeout, Endpoint, Handle, decode, encode

SANDBOX_USERS = (
    "nnsandbox",
    "nobody",
)  # nnsandbox is made by setup.sh and scripts/dev.sh  # the first that exists is used when the grader is root
CLONE_NEWNET = 0x40000000


@dataclass
class Limits:
    """Resource limits for one sandbox process and its children."""

    cpu_seconds: int = 600
    memory_bytes: int = 1024**3  # address space; the solution notebook peaks near 0.4 GB
    processes: int = 64
    file_bytes: int = 64 * 1024**2
    open_files: int = 256
    cell_timeout: float = 60.0
    call_timeout: float = 30.0
    notebook_timeout: float = 300.0
    total_timeout: float = 540.0  # Gradescope's default limit is 600 s
    max_restarts: int = 6

    @classmethod
    def from_environment(cls) -> Limits:
        """Defaults, overridden by NN_AUTOGRADER_LIMITS='{"cell_timeout": 10, ...}' (instructors and
        tests set it; a submission cannot set the grader's environment)."""
        overrides = json.loads(os.environ.get("NN_AUTOGRADER_LIMITS", "{}"))
        unknown = set(overrides) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown limits in NN_AUTOGRADER_LIMITS: {sorted(unknown)}")
        return cls(**overrides)


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


class SandboxUnavailable(Exception):
    """The sandbox cannot be started at all: the grader is misconfigured, not the submission."""


class SandboxDied(Exception):
    """The sandbox process timed out, died or broke the protocol; it has been killed."""


def sandbox_user() -> pwd.struct_passwd | None:
    """The unprivileged account for student code, or None when the grader is not root."""
    if os.geteuid() != 0:
        return None
    for name in SANDBOX_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def _try_new_network_namespace() -> None:
    """Detach from the network (root only; silently kept when the kernel refuses)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare(CLONE_NEWNET)
    except Exception:  # noqa: BLE001 - best effort; the README says what happens where refused
        pass


_namespaces_work: bool | None = None


def namespaces_available() -> bool:
    """Can this (root) grader put the sandbox in its own PID and network namespaces? Checked once
    by running util-linux's `unshare`; containers often refuse (Docker's default seccomp does)."""
    global _namespaces_work
    if os.environ.get("NN_AUTOGRADER_NAMESPACES") == "0":  # to test the fallback where they are refused
        return False
    if _namespaces_work is None:
        command = ["unshare", "--pid", "--fork", "--kill-child", "--net", "--", "true"]
        try:
            _namespaces_work = (
                os.geteuid() == 0 and subprocess.run(command, capture_output=True, timeout=10).returncode == 0
            )
        except (OSError, subprocess.TimeoutExpired):
            _namespaces_work = False
    return _namespaces_work


class Sandbox:
    """One sandbox process. Use `request` to talk to it; any failure kills it and raises."""

    generation_counter = 0

    def __init__(self, workdir: Path, limits: Limits, log_path: Path):
        self.workdir = workdir
        self.limits = limits
        self.log_path = log_path
        self.user = sandbox_user()
        # As root, where the kernel allows: PID 1 of a new PID namespace (everything the notebook
        # starts dies with it, even after setsid) and a new, empty network namespace.
        self.namespaced = self.user is not None and namespaces_available()
        self.token = os.urandom(8).hex()  # marks this sandbox's processes (see kill)
        self.process: subprocess.Popen | None = None
        self.endpoint: Endpoint | None = None
        self.requests_sent = 0
        Sandbox.generation_counter += 1
        self.generation = Sandbox.generation_counter

    def _preexec(self) -> None:  # runs in the child between fork and exec
        os.setsid()
        limits = self.limits
        for kind, value in [
            (resource.RLIMIT_CPU, limits.cpu_seconds),
            (resource.RLIMIT_AS, limits.memory_bytes),
            (resource.RLIMIT_FSIZE, limits.file_bytes),
            (resource.RLIMIT_NOFILE, limits.open_files),
            (resource.RLIMIT_CORE, 0),
        ]:
            resource.setrlimit(kind, (value, value))
        if self.user is not None:
            # counted against the sandbox user once it takes that uid (root is exempt until then)
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
            if not self.namespaced:  # else sandbox_main drops privileges inside the namespaces
                _try_new_network_namespace()
                os.setgroups([])
                os.setgid(self.user.pw_gid)
                os.setuid(self.user.pw_uid)

    def _environment(self) -> dict[str, str]:
        env = {
            "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.workdir),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(self.workdir / ".matplotlib"),
            "IPYTHONDIR": str(self.workdir / ".ipython"),
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "LANG": "C.UTF-8",
            "PIP_NO_INDEX": "1",  # `!pip install x` answers at once instead of waiting on the network
            "NN_SANDBOX_TOKEN": self.token,
        }
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "VIRTUAL_ENV"):
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    def start(self) -> None:
        to_child_read, to_child_write = os.pipe()
        from_child_read, from_child_write = os.pipe()
        with open(self.log_path, "ab") as log:
            command = [sys.executable, "-I", "-m", "autograder.sandbox_main", str(to_child_read), str(from_child_write)]
            if self.namespaced:
                command = ["unshare", "--pid", "--fork", "--kill-child", "--net", "--", *command]
                command += ["--uid", str(self.user.pw_uid), "--gid", str(self.user.pw_gid)]
            self.process = _popen_or_explain(
                command,
                pass_fds=(to_child_read, from_child_write),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.workdir,
                env=self._environment(),
                preexec_fn=self._preexec,
            )
        os.close(to_child_read)
        os.close(from_child_write)
        os.set_blocking(to_child_write, False)
        self.endpoint = Endpoint(from_child_read, to_child_write)

    def request(self, header: dict, arrays: list, timeout: float) -> tuple[dict, list]:
        """Send one request and wait for its answer; on timeout or death, kill and raise."""
        if self.endpoint is None:
            raise SandboxDied("the sandbox is not running")
        self.requests_sent += 1
        header = dict(header, id=self.requests_sent)
        try:
            self.endpoint.send(header, arrays, timeout=timeout)
            reply, reply_arrays = self.endpoint.receive(timeout=timeout)
            if reply.get("id") != self.requests_sent:
                raise ChannelError("the answer does not belong to the request")
            return reply, reply_arrays
        except ChannelTimeout:
            self.kill()
            raise SandboxDied(f"timed out after {timeout:g} s") from None
        except (ChannelError, ValueError, KeyError) as error:
            try:  # the channel closes a moment before the process is gone: give it that moment
                code = self.process.wait(timeout=2) if self.process else None
            except subprocess.TimeoutExpired:
                code = None
            self.kill()
            raise SandboxDied(_death_reason(code, error)) from None

    def kill(self) -> None:
        """Kill the sandbox and everything it started. In a PID namespace the kernel does that when
        its first process dies; otherwise the process group goes, then every process of the
        sandbox user that carries this sandbox's token (those that escaped the group)."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
        if self.user is not None and not self.namespaced:
            kill_marked_processes(self.user.pw_uid, self.token)
        reap_orphans()
        if self.endpoint is not None:
            for fd in (self.endpoint.read_fd, self.endpoint.write_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.process = self.endpoint = None


def _popen_or_explain(command: list[str], **options: Any) -> subprocess.Popen:
    """Popen, turning a failure to start into a message an instructor can act on."""
    try:
        return subprocess.Popen(command, **options)
    except OSError as error:
        user = sandbox_user()
        who = f"user {user.pw_name}" if user else "this user"
        raise SandboxUnavailable(
            f"the sandbox could not start {command[0]} as {who} ({error.strerror}). When grading as root, "
            "student code runs unprivileged: install the grader in a Python every user can read "
            "(a venv made from /usr/bin/python3, not a Python under /root)."
        ) from None


def _death_reason(exit_code: int | None, error: Exception) -> str:
    if exit_code is None:
        return f"stopped answering ({error})"
    if exit_code < 0:
        name = signal.Signals(-exit_code).name
        hint = {
            "SIGKILL": " (out of memory, or killed)",
            "SIGXCPU": " (CPU time limit)",
            "SIGXFSZ": " (file size limit)",
            "SIGSEGV": " (crashed)",
        }.get(name, "")
        return f"died from {name}{hint}"
    return f"exited with code {exit_code} (os._exit, sys.exit or a crash)"


PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Make this process adopt its orphaned descendants (Linux), so the processes a notebook
    left behind are reaped here once killed: a zombie still counts against the sandbox user's
    process limit and would stop the next sandbox from starting threads."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:  # noqa: BLE001 - not Linux: nothing to adopt
        pass


def reap_orphans(seconds: float = 2.0) -> None:
    """Collect exited children (adopted orphans included) until none is left or time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def kill_marked_processes(uid: int, token: str, rounds: int = 5) -> None:
    """SIGKILL every process of `uid` whose environment holds NN_SANDBOX_TOKEN=`token` (root can
    read any /proc/<pid>/environ). A few rounds, since a process may fork while we look."""
    marker = f"NN_SANDBOX_TOKEN={token}".encode()
    for _ in range(rounds):
        found = False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != uid or marker not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                os.kill(int(entry.name), signal.SIGKILL)
                found = True
            except (OSError, ValueError):
                continue
        if not found:
            return


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


class NotebookRun:
    """A submission's notebook running in a sandbox, restarted as needed, serving calls.

    Time is bounded three ways: each cell and each call has a timeout; a (question, function)
    pair that timed out once is not called again; and everything stops at `limits.total_timeout`
    after the first start, so grading a submission ends within that bound plus a few seconds.
    """

    def __init__(self, cells: list[Cell], workdir: Path, limits: Limits | None = None, log_path: Path | None = None):
        self.cells = cells
        self.workdir = workdir
        self.limits = limits or Limits()
        self.log_path = log_path or (workdir.parent / f"{workdir.name}-sandbox.log")
        self.outcomes: dict[int, CellOutcome] = {}
        self.sandbox: Sandbox | None = None
        self.restarts = 0
        self.last_failure = ""
        self.started_at: float | None = None
        self.timed_out_calls: dict[tuple[str | None, str], str] = {}

    def _time_left(self, limit: float) -> float:
        """`limit`, cut to what is left of the total budget; 0 when it is used up."""
        if self.started_at is None:
            return limit
        return max(0.0, min(limit, self.started_at + self.limits.total_timeout - time.monotonic()))

    # -- running the cells ---------------------------------------------------------------------
    def ensure_running(self) -> Sandbox:
        """A live sandbox with every runnable cell executed; raises SandboxDied if impossible."""
        while self.sandbox is None:
            if self.restarts > self.limits.max_restarts:
                raise SandboxDied(f"the notebook's process died {self.restarts} times; last: {self.last_failure}")
            if self.started_at is not None and self._time_left(1.0) <= 0:
                raise SandboxDied(f"the grading time budget of {self.limits.total_timeout:g} s is used up")
            self.restarts += 1
            sandbox = Sandbox(self.workdir, self.limits, self.log_path)
            sandbox.start()
            self.sandbox = sandbox
            self.started_at = self.started_at or time.monotonic()
            self._run_cells()
        return self.sandbox

    def describe_cell(self, cell: Cell) -> str:
        first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
        return f"code cell {cell.index + 1} ({first[:60]!r})"

    def _run_cells(self) -> None:
        for cell in self.cells:
            previous = self.outcomes.get(cell.index)
            if previous is not None and previous.status in ("timeout", "died", "skipped"):
                continue
            budget = self._time_left(self.limits.cell_timeout)
            if time.monotonic() - self.started_at > self.limits.notebook_timeout or budget <= 0:
                self.outcomes[cell.index] = CellOutcome(
                    "skipped", f"{self.describe_cell(cell)} was not run: the notebook used up its time"
                )
                continue
            try:
                reply, _ = self.sandbox.request(
                    {"op": "run_cell", "source": cell.source, "checkpoints": cell.checkpoints}, [], timeout=budget
                )
            except SandboxDied as death:
                status = "timeout" if "timed out" in str(death) else "died"
                self.outcomes[cell.index] = CellOutcome(status, f"{self.describe_cell(cell)} {death}; it was skipped")
                self.last_failure = self.outcomes[cell.index].message
                self.sandbox = None
                return
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
        return notes

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
    ) -> CallResult:
        """Call the student's `name` with the names as they stood at `question`'s checkpoint.

        keep: positions in a returned tuple to hold in the sandbox as handles (a cache).
        get: fetch the value of the variable `name` instead of calling it.
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

        reply, reply_arrays, seconds, generation = self._exchange(question, name, fields, timeout)
        try:
            value = decode(reply["value"], reply_arrays, generation)
            args_after = decode(reply["args_after"], reply_arrays, generation)
        except (ChannelError, KeyError, IndexError):
            raise StudentError(f"{name} sent back something the grader cannot read") from None
        return CallResult(value, args_after, seconds, str(reply.get("output", "")))

    def run_program(self, question: str | None, program: Program, returns: list, timeout: float | None = None) -> list:
        """Run `program` in the sandbox in one round trip; the values of the `returns` refs."""

        def fields(sandbox: Sandbox, arrays: list) -> dict:
            return {"op": "program", "steps": program.encoded_steps(arrays), "returns": [ref.slot for ref in returns]}

        reply, reply_arrays, _, generation = self._exchange(question, program.label, fields, timeout)
        try:
            return list(decode(reply["values"], reply_arrays, generation))
        except (ChannelError, KeyError, IndexError, TypeError):
            raise StudentError(f"{program.label} sent back something the grader cannot read") from None

    def _exchange(
        self, question: str | None, label: str, fields, timeout: float | None
    ) -> tuple[dict, list, float, int]:
        """One request at `question`'s checkpoint: (reply, its arrays, seconds, sandbox generation).
        Raises StudentError for timeouts, deaths and errors in student code."""
        if (question, label) in self.timed_out_calls:
            raise StudentError(self.timed_out_calls[(question, label)] + " (not called again)", timed_out=True)
        try:
            sandbox = self.ensure_running()
        except SandboxDied as death:
            raise StudentError(f"{label} could not be called: {death}") from None
        arrays: list = []
        header = dict(fields(sandbox, arrays), question=question)
        limit = self._time_left(timeout or self.limits.call_timeout)
        if limit <= 0:
            raise StudentError(f"{label} was not called: the grading time budget is used up", timed_out=True)
        started = time.monotonic()
        try:
            reply, reply_arrays = sandbox.request(header, arrays, timeout=limit)
        except SandboxDied as death:
            self.sandbox = None
            self.last_failure = f"{label} {death}"
            if "timed out" in str(death):
                self.timed_out_calls[(question, label)] = f"{label} {death}"
            raise StudentError(f"{label} {death}", timed_out="timed out" in str(death)) from None
        seconds = time.monotonic() - started
        if not reply.get("ok"):
            missing = bool(reply.get("missing"))
            message = f"{label} raised {reply.get('error')}"
            if missing and self.problems():
                message += f" (while running your notebook: {self.problems()[0]})"
            raise StudentError(message, missing=missing)
        return reply, reply_arrays, seconds, sandbox.generation


@dataclass(frozen=True)
class Ref:
    """A slot of a `Program`: the result of one of its steps, living in the sandbox."""

    slot: int


class Program:
    """Steps run in the sandbox in one round trip, on objects that cannot cross the channel
    (instances of the student's classes). Each step's result is a `Ref`; arguments are plain data
    or refs. `label` names the program in feedback::

        p = Program("Value")
        a, b = p.call("Value", 2.0), p.call("Value", -3.0)
        c = p.op("mul", a, b)              # operator.mul(a, b): a * b, as Python would run it
        p.method(c, "backward")
        grads = student.run(p, [p.get(a, "grad"), p.get(b, "grad")])
    """

    def __init__(self, label: str):
        self.label = label
        self.steps: list[dict] = []

    def _add(self, step: dict) -> Ref:
        self.steps.append(step)
        return Ref(len(self.steps) - 1)

    def call(self, name: str, *args: Any) -> Ref:
        """The student's global `name` called with `args`."""
        return self._add({"kind": "call", "name": name, "args": list(args)})

    def method(self, ref: Ref, name: str, *args: Any) -> Ref:
        return self._add({"kind": "method", "slot": ref.slot, "name": name, "args": list(args)})

    def op(self, name: str, *args: Any) -> Ref:
        """`operator.<name>(*args)`, so reflected methods (2 * v calls v.__rmul__) are exercised."""
        return self._add({"kind": "operator", "name": name, "args": list(args)})

    def get(self, ref: Ref, attribute: str) -> Ref:
        return self._add({"kind": "getattr", "slot": ref.slot, "name": attribute})

    def set(self, ref: Ref, attribute: str, value: Any) -> Ref:
        return self._add({"kind": "setattr", "slot": ref.slot, "name": attribute, "args": [value]})

    def item(self, ref: Ref, index: int) -> Ref:
        return self._add({"kind": "item", "slot": ref.slot, "index": index})

    def encoded_steps(self, arrays: list) -> list[dict]:
        def argument(value: Any) -> dict:
            return {"slot": value.slot} if isinstance(value, Ref) else {"value": encode(value, arrays, None)}

        return [dict(step, args=[argument(a) for a in step.get("args", [])]) for step in self.steps]


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

    def call(self, name: str, *args: Any, timeout: float | None = None, keep: tuple = (), **kwargs: Any) -> CallResult:
        return self._run.call(self._question, name, args, kwargs, timeout=timeout, keep=keep)

    def value(self, name: str) -> Any:
        """The plain value of the variable `name` (a numeric answer), not a call."""
        return self._run.call(self._question, name, (), {}, get=True).value

    def run(self, program: Program, returns: list[Ref], timeout: float | None = None) -> list:
        """Run a `Program` and return the plain values of `returns` (objects come back as handles)."""
        return self._run.run_program(self._question, program, returns, timeout=timeout)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def function(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, *args, **kwargs).value

        function.__name__ = name
        return function
