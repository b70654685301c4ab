"""One sandbox process, seen from the grader: start it, talk to it, kill it.

The process is ``python -I -m autograder.sandbox.server`` (see there), in its own session, with
resource limits. When the grader is root it runs as the grading's own uid (`SandboxIdentity`) and,
where the kernel allows, as PID 1 of new PID, mount, network and IPC namespaces with private
/tmp, /var/tmp and /dev/shm. It says "ready" only once it has dropped privileges and imported what
a notebook needs; a sandbox that never gets ready is the grader's fault (`SandboxUnavailable`),
never the student's. Requests have timeouts; a late, dead or garbling sandbox is killed whole.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox.channel import CannotSend, ChannelError, ChannelTimeout, Endpoint
from autograder.sandbox.isolation import (
    NAMESPACE_FLAGS,
    SandboxIdentity,
    detach_network_and_ipc,
    drop_privileges,
    isolation_mode,
    kill_all_processes_of,
    reap_orphans,
)


@dataclass
class Limits:
    """Resource limits for one sandbox process and its children."""

    cpu_seconds: int = 600
    memory_bytes: int = 1024**3  # address space; the solution notebook peaks near 0.4 GB
    processes: int = 64
    file_bytes: int = 64 * 1024**2
    open_files: int = 256
    private_tmp_bytes: int = 64 * 1024**2  # each private /tmp, /var/tmp, /dev/shm (namespaces mode)
    start_timeout: float = 60.0  # to "ready": imports only, no student code
    cell_timeout: float = 60.0
    call_timeout: float = 30.0
    notebook_timeout: float = 300.0
    hang_budget: float = 90.0  # all the time timeouts may cost, together (see NotebookRun)
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


class SandboxUnavailable(Exception):
    """The sandbox cannot be started at all: the grader is misconfigured, not the submission."""


class SandboxDied(Exception):
    """The sandbox process timed out, died or broke the protocol; it has been killed.

    timed_out: the request ran out of time; stack: then, the Watchdog's last report (notebook
    frames on the stack, innermost first, each with how long its call had been running)."""

    def __init__(self, message: str, timed_out: bool = False, stack: list[dict] | None = None):
        super().__init__(message)
        self.timed_out = timed_out
        self.stack = stack or []


class Sandbox:
    """One sandbox process. Use `request` to talk to it; any failure kills it and raises."""

    generation_counter = 0

    def __init__(self, workdir: Path, limits: Limits, log_path: Path, identity: SandboxIdentity | None):
        self.workdir = workdir
        self.limits = limits
        self.log_path = log_path
        self.identity = identity
        self.mode = isolation_mode() if identity is not None else "same-user"
        self.process: subprocess.Popen | None = None
        self.endpoint: Endpoint | None = None
        self.report_fd: int | None = None  # the Watchdog's reports (see autograder.sandbox.watch)
        self.requests_sent = 0
        Sandbox.generation_counter += 1
        self.generation = Sandbox.generation_counter

    @property
    def who(self) -> str:
        return f"uid {self.identity.uid}" if self.identity else "this user"

    # -- starting ------------------------------------------------------------------------------
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
        if self.identity is not None:
            # counted against the sandbox uid once the process takes it (root is exempt until then)
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
            if self.mode != "namespaces":  # else the server drops privileges inside the namespaces
                detach_network_and_ipc()
                drop_privileges(self.identity.uid, self.identity.gid)

    def _environment(self) -> dict[str, str]:
        name = self.identity.name if self.identity else "student"
        env = {
            "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.workdir),
            "USER": name,  # getpass.getuser() without a passwd entry
            "LOGNAME": name,
            "TMPDIR": "/tmp",
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
        }
        for variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "VIRTUAL_ENV"):
            if variable in os.environ:
                env[variable] = os.environ[variable]
        return env

    def command(self, read_fd: int, write_fd: int, report_fd: int) -> list[str]:
        command = [sys.executable, "-I", "-m", "autograder.sandbox.server", str(read_fd), str(write_fd), str(report_fd)]
        if self.mode == "namespaces":
            command = ["unshare", *NAMESPACE_FLAGS, "--", *command]
            command += ["--uid", str(self.identity.uid), "--gid", str(self.identity.gid)]
            command += ["--private-tmp", str(self.limits.private_tmp_bytes)]
        return command

    def start(self) -> None:
        """Start the process and wait for its "ready". Raises SandboxUnavailable if it never gets
        there: nothing of the student's has run yet, so the fault is the grader's."""
        to_child_read, to_child_write = os.pipe()
        from_child_read, from_child_write = os.pipe()
        report_read, report_write = os.pipe()
        child_ends = (to_child_read, from_child_write, report_write)
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(
                    self.command(*child_ends),
                    pass_fds=child_ends,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=self.workdir,
                    env=self._environment(),
                    preexec_fn=self._preexec,
                )
            except OSError as error:
                for fd in (*child_ends, to_child_write, from_child_read, report_read):
                    os.close(fd)
                raise SandboxUnavailable(
                    f"the sandbox could not start {sys.executable} as {self.who} ({self.mode} mode): {error.strerror}. "
                    "Run `nn-autograder doctor` on this machine for the fix."
                ) from None
        for fd in child_ends:
            os.close(fd)
        os.set_blocking(to_child_write, False)
        os.set_blocking(report_read, False)
        self.report_fd = report_read
        self.endpoint = Endpoint(from_child_read, to_child_write)
        try:
            ready, _ = self.endpoint.receive(timeout=self.limits.start_timeout)
            if ready.get("op") != "ready":
                raise ChannelError("the first message was not 'ready'")
        except ChannelError as error:
            code = self._exit_code(wait=2)
            self.kill()
            raise SandboxUnavailable(self._not_ready_reason(error, code, log_start)) from None

    def _not_ready_reason(self, error: Exception, code: int | None, log_start: int) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(log_start)
                lines = log.read(64_000).decode(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        said = f" It said: {' | '.join(lines[-3:])}" if lines else ""
        how = "timed out" if isinstance(error, ChannelTimeout) else f"ended ({_death_reason(code, error)})"
        return (
            f"the sandbox ({sys.executable} as {self.who}, {self.mode} mode) {how} before it was ready.{said} "
            "Run `nn-autograder doctor` on this machine for the fix."
        )

    # -- talking -------------------------------------------------------------------------------
    def request(self, header: dict, arrays: list, timeout: float) -> tuple[dict, list]:
        """Send one request and wait for its answer; on timeout, death or a malformed answer,
        kill the sandbox and raise SandboxDied."""
        if self.endpoint is None:
            raise SandboxDied("the sandbox is not running")
        self.requests_sent += 1
        header = dict(header, id=self.requests_sent, timeout=timeout)
        try:
            self.endpoint.send(header, arrays, timeout=timeout)
            reply, reply_arrays = self.endpoint.receive(timeout=timeout)
            if reply.get("id") != self.requests_sent:
                raise ChannelError("the answer does not belong to the request")
            return reply, reply_arrays
        except CannotSend as error:  # the grader's own request: a bug of the grader, not the student's
            raise RuntimeError(f"the grader's request cannot be sent: {error}") from None
        except ChannelTimeout:
            stack = self.read_report()
            self.kill()
            raise SandboxDied(f"timed out after {timeout:g} s", timed_out=True, stack=stack) from None
        except ChannelError as error:
            code = self._exit_code(wait=2)  # the channel closes a moment before the process is gone
            self.kill()
            raise SandboxDied(_death_reason(code, error)) from None

    def read_report(self) -> list[dict]:
        """What the Watchdog reported for the last request: the notebook frames on the stack,
        innermost first. Untrusted; [] when there is none."""
        request_id = self.requests_sent
        data = b""
        while self.report_fd is not None and len(data) < 1 << 20:
            try:
                chunk = os.read(self.report_fd, 1 << 16)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            data += chunk
        for line in reversed(data.decode(errors="replace").splitlines()[-100:]):
            try:
                report = json.loads(line)
                if report.get("id") == request_id and isinstance(report.get("stack"), list):
                    return [frame for frame in report["stack"] if isinstance(frame, dict)]
            except (ValueError, AttributeError, RecursionError):
                continue
        return []

    def _exit_code(self, wait: float) -> int | None:
        try:
            return self.process.wait(timeout=wait) if self.process else None
        except subprocess.TimeoutExpired:
            return None

    # -- stopping ------------------------------------------------------------------------------
    def kill(self) -> None:
        """Kill the sandbox and everything it started: its process group, and then every process
        of the sandbox uid (in a PID namespace the kernel also kills all when PID 1 dies)."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
        if self.identity is not None:
            kill_all_processes_of(self.identity.uid)
        reap_orphans(0.05)
        if self.endpoint is not None:
            for fd in (self.endpoint.read_fd, self.endpoint.write_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self.report_fd is not None:
            os.close(self.report_fd)
        self.process = self.endpoint = self.report_fd = None


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
