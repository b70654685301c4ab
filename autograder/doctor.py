"""`nn-autograder doctor`: can this machine grade, and if not, what to change.

Every check is a small function returning one `Result` (check, status, what was found, the fix).
Status is "ok", "WARN" (grading works, less safely or with less isolation), "FAIL" (grading
would end in a grader error: no score for anybody) or "skip" (does not apply: not root).

1. root                 the grader runs as root, so student code can run as another uid
2. sandbox uids         the reserved range has no /etc/passwd accounts (or groups) in it
   uid locks            the root-only folder holding one lock per running grading
   leftover processes   no process runs under a range uid that no grading holds
3. interpreter          `sys.executable` and numpy, IPython, matplotlib, autograder: started for real as a sandbox uid
   no passwd entry      getpass.getuser() and an IPython shell work for a uid without an account
4. namespaces           which isolation mode grading will use
5. limits               the sandbox's resource limits can be set in a child
6. temporary places     /tmp and the others: sticky, world-writable, space left
7. end-to-end           a real sandbox, exactly as grading starts one, gets "ready"

The checks that start a process take the interpreter as a parameter (default `sys.executable`),
so the tests can point them at a Python the sandbox uid cannot run.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import importlib.util
import json
import os
import pwd
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.sandbox.isolation import (
    NAMESPACE_FLAGS,
    SANDBOX_UIDS,
    TEMPORARY_PLACES,
    IsolationError,
    SandboxIdentity,
    lock_folder,
    processes_of,
    uid_is_reserved_for_us,
)
from autograder.sandbox.process import Limits, Sandbox, SandboxUnavailable

OK, WARN, FAIL, SKIP = "ok", "WARN", "FAIL", "skip"
UID_RANGE = f"{SANDBOX_UIDS.start}-{SANDBOX_UIDS.stop - 1}"
PACKAGES = ("numpy", "IPython", "matplotlib", "autograder")
FIX_INTERPRETER = (
    "install the grader in a Python every user can read: a venv made from /usr/bin/python3 "
    "(scripts/dev.sh does this), not from a Python under /root (pyenv, conda)"
)
NOT_ROOT = "not root: the sandbox runs as you, no uid switch"
NOT_STARTED = "the interpreter could not be started: see the interpreter check"
MIN_TMP_FREE = 256 * 1024**2
LIMIT_REFUSED_EXIT = 90  # + the index of the limit a child could not set (see check_limits)

IMPORTS = f"""
import json, matplotlib, numpy, IPython, autograder.sandbox.server
print(json.dumps({{m.__name__: m.__file__ for m in ({", ".join(PACKAGES)})}}))
"""
WITHOUT_ACCOUNT = """
import getpass
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance(colors="NoColor")
shell.run_cell("import getpass; user = getpass.getuser()", store_history=False).raise_error()
print(getpass.getuser(), shell.user_ns["user"])
"""


@dataclass
class Result:
    """One row of the report."""

    check: str
    status: str
    found: str
    fix: str = ""


# -- 1. root ----------------------------------------------------------------------------------------
def check_root() -> Result:
    if os.geteuid() == 0:
        return Result("root", OK, f"running as root: each grading's sandbox gets its own uid from {UID_RANGE}")
    return Result(
        "root",
        WARN,
        f"running as uid {os.geteuid()}: student code would run as you, and could read the unpacked zip "
        "and signal the grader",
        "grade untrusted work as root, in a VM or container, or on Gradescope",
    )


# -- 2. the uid range -------------------------------------------------------------------------------
def check_uid_range() -> Result:
    accounts = {uid: _name(pwd.getpwuid, uid) for uid in SANDBOX_UIDS if not uid_is_reserved_for_us(uid)}
    groups = {gid: name for gid in SANDBOX_UIDS if (name := _name(grp.getgrgid, gid))}
    problems = [f"account {name} has uid {uid} (skipped)" for uid, name in accounts.items()]
    problems += [
        f"group {name} has gid {gid}: a sandbox on uid {gid} would get that group's file access"
        for gid, name in groups.items()
        if gid not in accounts
    ]
    if len(accounts) == len(SANDBOX_UIDS):
        return Result("sandbox uids", FAIL, f"every uid of {UID_RANGE} belongs to an account", _FIX_RANGE)
    if problems:
        return Result("sandbox uids", WARN, f"{UID_RANGE}: " + "; ".join(problems), _FIX_RANGE)
    return Result("sandbox uids", OK, f"{UID_RANGE}: no account or group has one of these ids")


_FIX_RANGE = f"give those accounts and groups ids outside {UID_RANGE} (usermod -u, groupmod -g)"


def _name(lookup, number: int) -> str:
    try:
        return lookup(number)[0]
    except KeyError:
        return ""


def check_lock_folder() -> Result:
    if os.geteuid() != 0:
        return Result("uid locks", SKIP, NOT_ROOT)
    try:
        folder = lock_folder()
    except IsolationError as problem:
        return Result("uid locks", FAIL, str(problem), "make /run (or /var/lib) a folder only root can write to")
    held = [uid for uid in SANDBOX_UIDS if _held_by_a_grading(folder, uid)]
    return Result("uid locks", OK, f"{folder} (root only); uids held by running gradings now: {len(held)}")


def _held_by_a_grading(folder: Path, uid: int) -> bool:
    """Is this uid's lock held (by a grading in progress)? Tested with a shared lock, let go at once."""
    try:
        fd = os.open(folder / f"uid-{uid}.lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the shared lock, if taken


def check_leftover_processes() -> Result:
    if os.geteuid() != 0:
        return Result("leftover processes", SKIP, NOT_ROOT)
    try:
        folder = lock_folder()
    except IsolationError as problem:
        return Result("leftover processes", SKIP, f"no lock folder ({problem})")
    left, left_uids, busy = [], [], 0
    for uid in SANDBOX_UIDS:
        pids = processes_of(uid) if uid_is_reserved_for_us(uid) else []
        if pids and _held_by_a_grading(folder, uid):
            busy += 1
        elif pids:
            names = sorted({_command_name(pid) for pid in pids})
            left.append(f"uid {uid}: {len(pids)} ({', '.join(names)}; pids {', '.join(map(str, pids[:5]))})")
            left_uids.append(str(uid))
    if left:
        return Result(
            "leftover processes",
            WARN,
            "running with no grading holding their uid: " + "; ".join(left),
            "a grading that takes such a uid kills them first; to end them now: pkill -KILL -U " + ",".join(left_uids),
        )
    return Result("leftover processes", OK, f"none ({busy} uid(s) busy with a running grading)")


def _command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


# -- 3. the interpreter and packages, as a sandbox uid ----------------------------------------------
def check_interpreter(interpreter: str = sys.executable, identity: SandboxIdentity | None = None) -> Result:
    """Start `interpreter` as the sandbox uid and import what the sandbox server imports."""
    who = f"uid {identity.uid}" if identity else "this user"
    where = _described(interpreter)
    started = time.monotonic()
    completed, error = _run_as(identity, [interpreter, "-I", "-c", IMPORTS])
    if error:
        return Result("interpreter", FAIL, f"{where} as {who}: {error}{_blocked_hint(interpreter)}", FIX_INTERPRETER)
    try:
        files = list(json.loads(completed.stdout.strip().splitlines()[-1]).values())
    except (ValueError, IndexError, AttributeError):
        files = []
    folders = sorted({str(Path(f).parent.parent) for f in files}) or ["?"]
    return Result(
        "interpreter",
        OK,
        f"{where} imports {', '.join(PACKAGES)} as {who} in {time.monotonic() - started:.1f} s "
        f"(from {', '.join(folders)})",
    )


def check_without_account(interpreter: str = sys.executable, identity: SandboxIdentity | None = None) -> Result:
    """A range uid has no passwd entry: getpass and IPython must make do with USER and HOME."""
    if identity is None:
        return Result("no passwd entry", SKIP, NOT_ROOT)
    completed, error = _run_as(identity, [interpreter, "-I", "-c", WITHOUT_ACCOUNT])
    if error:
        fix = NOT_STARTED if completed is None else "report this with the error (the sandbox sets USER and HOME)"
        return Result("no passwd entry", FAIL, f"as uid {identity.uid}: {error}", fix)
    user = completed.stdout.split()
    return Result(
        "no passwd entry", OK, f"uid {identity.uid}: getpass.getuser() = {user[0]!r}, an IPython shell starts"
    )


def _run_as(
    identity: SandboxIdentity | None, command: list[str], preexec=None, timeout: float | None = None
) -> tuple[subprocess.CompletedProcess | None, str]:
    """Run `command` as the sandbox uid (or as this user), with the sandbox's kind of environment,
    in a fresh home folder it owns. Returns (the finished process, "") or (maybe it, what went wrong)."""
    home = tempfile.mkdtemp(prefix="nn-doctor-")
    name = identity.name if identity else "student"
    env = {
        **{k: os.environ[k] for k in ("VIRTUAL_ENV",) if k in os.environ},
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "USER": name,
        "LOGNAME": name,
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "IPYTHONDIR": f"{home}/.ipython",
        "OPENBLAS_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
    }

    def become_sandbox_uid() -> None:  # in the child, between fork and exec
        if preexec is not None:
            preexec()
        if identity is not None:
            os.setgroups([])
            os.setgid(identity.gid)
            os.setuid(identity.uid)

    if identity is not None:
        os.chown(home, identity.uid, identity.gid)
    try:
        completed = subprocess.run(
            command,
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout or Limits.from_environment().start_timeout,
            preexec_fn=become_sandbox_uid,
        )
    except OSError as error:
        return None, str(error)
    except subprocess.TimeoutExpired as expired:
        return None, f"did not finish within {expired.timeout:g} s"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.splitlines() if line.strip()]
        return completed, (lines[-1] if lines else f"exited with code {completed.returncode}")
    return completed, ""


def _described(interpreter: str) -> str:
    real = os.path.realpath(interpreter)
    return interpreter if real == interpreter else f"{interpreter} (= {real})"


def _grader_paths(interpreter: str) -> list[str]:
    """The interpreter, the file it resolves to and, if it is this one, where its packages are."""
    paths = [interpreter, os.path.realpath(interpreter)]
    if interpreter == sys.executable:
        specs = [importlib.util.find_spec(name) for name in PACKAGES]
        paths += [spec.origin for spec in specs if spec is not None and spec.origin]
    return paths


def _blocked_hint(interpreter: str) -> str:
    """Which folder on the way to the interpreter (or to the packages this process uses) others
    cannot pass through, if any: "; /root is drwx------ (owner uid 0)"."""
    for path in _grader_paths(interpreter):
        for folder in reversed(Path(path).parents):
            try:
                info = folder.stat()
            except OSError:
                continue
            if not info.st_mode & stat.S_IXOTH:
                return f"; {folder} is {stat.filemode(info.st_mode)} (owner uid {info.st_uid})"
    return ""


# -- 4. namespaces ------------------------------------------------------------------------------------
NAMESPACES_MODE = "namespaces mode: private /tmp, /var/tmp, /dev/shm, own PID, network and IPC"
UID_MODE = "uid mode (as on Gradescope): the sandbox keeps the host network; cleanup by uid"


def check_namespaces() -> Result:
    if os.geteuid() != 0:
        return Result("namespaces", SKIP, "same-user mode (not root): no namespaces, no sandbox uid")
    try:
        completed = subprocess.run(
            ["unshare", *NAMESPACE_FLAGS, "--", "true"], capture_output=True, text=True, timeout=10
        )
        refused = completed.returncode != 0 and (completed.stderr.strip().splitlines() or ["refused"])[-1]
    except FileNotFoundError:
        refused = "unshare is not installed (util-linux)"
    except (OSError, subprocess.TimeoutExpired) as error:
        refused = str(error)
    forced = os.environ.get("NN_AUTOGRADER_NAMESPACES") == "0"
    if refused:
        return Result(
            "namespaces",
            WARN,
            f"{UID_MODE} (unshare: {refused})",
            "fine for grading; for the private folders and no network, grade in a VM or a container "
            "whose seccomp profile allows unshare",
        )
    if forced:
        return Result(
            "namespaces",
            WARN,
            f"the kernel allows namespaces, but NN_AUTOGRADER_NAMESPACES=0 is set: {UID_MODE}",
            "unset NN_AUTOGRADER_NAMESPACES for namespaces mode",
        )
    return Result("namespaces", OK, f"{NAMESPACES_MODE} (NN_AUTOGRADER_NAMESPACES=0 would force {UID_MODE})")


# -- 5. resource limits -------------------------------------------------------------------------------
def check_limits(interpreter: str = sys.executable, identity: SandboxIdentity | None = None) -> Result:
    """Set the sandbox's limits in a child (then become the uid, as the sandbox does) and read them back.
    A limit the child cannot set ends it with LIMIT_REFUSED_EXIT + its index, before exec."""
    limits = Limits.from_environment()
    wanted = [
        ("AS", limits.memory_bytes),
        ("NPROC", limits.processes),  # counted against the sandbox uid; not set for a same-user sandbox
        ("FSIZE", limits.file_bytes),
        ("NOFILE", limits.open_files),
        ("CPU", limits.cpu_seconds),
    ]
    if identity is None:
        wanted = [(name, value) for name, value in wanted if name != "NPROC"]

    def set_limits() -> None:
        for index, (name, value) in enumerate(wanted):
            try:
                resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (value, value))
            except (OSError, ValueError):
                os._exit(LIMIT_REFUSED_EXIT + index)

    names = [name for name, _ in wanted]
    read_back = f"import resource; print(*[resource.getrlimit(getattr(resource, 'RLIMIT_' + n))[0] for n in {names}])"
    listed = ", ".join(f"{name} {_amount(name, value)}" for name, value in wanted)
    completed, error = _run_as(identity, [interpreter, "-I", "-c", read_back], preexec=set_limits)
    index = completed.returncode - LIMIT_REFUSED_EXIT if completed is not None else -1
    if 0 <= index < len(wanted):
        name, value = wanted[index]
        hard = resource.getrlimit(getattr(resource, f"RLIMIT_{name}"))[1]
        return Result(
            "limits",
            FAIL,
            f"RLIMIT_{name} = {value} refused (this process's hard limit: {hard})",
            f"raise the hard limit (ulimit -H, docker --ulimit) or lower it in NN_AUTOGRADER_LIMITS ({listed})",
        )
    if error:
        fix = NOT_STARTED if completed is None else "raise the limits in NN_AUTOGRADER_LIMITS (memory_bytes first)"
        return Result("limits", FAIL, f"a child with the limits ({listed}) failed: {error}", fix)
    if completed.stdout.split() != [str(value) for _, value in wanted]:
        return Result("limits", FAIL, f"set {listed}, but the child has {completed.stdout.strip()}")
    who = f"as uid {identity.uid}" if identity else "as this user"
    return Result("limits", OK, f"{listed}: set and held in a child {who}")


def _amount(name: str, value: int) -> str:
    if name in ("AS", "FSIZE"):
        return f"{value / 1024**2:g} MiB"
    return f"{value} s" if name == "CPU" else str(value)


# -- 6. temporary places ------------------------------------------------------------------------------
def check_temporary_places(places: tuple[Path, ...] = TEMPORARY_PLACES) -> Result:
    found, problems = [], []
    for place in places:
        try:
            info = os.stat(place)
        except OSError:
            continue
        shared = stat.S_ISDIR(info.st_mode) and info.st_mode & 0o1002 == 0o1002  # sticky, world-writable
        free = shutil.disk_usage(place).free
        found.append(f"{place} {stat.S_IMODE(info.st_mode):o}{'' if shared else ' (not sticky)'} {_size(free)} free")
        if str(place) == "/tmp" and not shared:
            problems.append("/tmp is not a sticky world-writable folder: users can remove each other's files")
        if str(place) == "/tmp" and free < MIN_TMP_FREE:
            problems.append(f"/tmp has {_size(free)} free (each grading unpacks the submission there)")
    if problems:
        return Result("temporary places", WARN, "; ".join(problems + found), "chmod 1777 /tmp, and free space there")
    return Result("temporary places", OK, "; ".join(found))


def _size(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB" if size >= 1024**3 else f"{size / 1024**2:.0f} MiB"


# -- 7. a real sandbox --------------------------------------------------------------------------------
def check_end_to_end(interpreter: str = sys.executable) -> Result:
    """Start a sandbox exactly as a grading does (its own uid, scratch folder, limits, mode) and
    wait for "ready"; then kill it and give the uid back."""
    from autograder.grade import _prepare_scratch

    identity = base = sandbox = None
    try:
        identity = SandboxIdentity.acquire()
        with tempfile.TemporaryDirectory() as no_files:
            base, work = _prepare_scratch(b"{}", "doctor.ipynb", Path(no_files), identity)
        os.mkdir(base / "log", 0o700)
        sandbox = Sandbox(work, Limits.from_environment(), base / "log" / "sandbox.log", identity)
        started = time.monotonic()
        with _sandbox_interpreter(interpreter):
            sandbox.start()
        ready = time.monotonic() - started
        who = f"uid {identity.uid}, {len(processes_of(identity.uid))} process(es)" if identity else "this user"
        return Result("end-to-end", OK, f"a sandbox ({sandbox.mode} mode, {who}) was ready in {ready:.1f} s")
    except IsolationError as problem:
        return Result("end-to-end", FAIL, str(problem), "see the sandbox uids and uid locks checks")
    except SandboxUnavailable as problem:
        fixes = [FIX_INTERPRETER, "else the sandbox's own words above say what stopped it"]
        return Result("end-to-end", FAIL, str(problem), "; ".join(fixes))
    finally:
        if sandbox is not None:
            sandbox.kill()
        if identity is not None:
            identity.release()
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def _sandbox_interpreter(interpreter: str):
    """`Sandbox` starts `sys.executable`; to check another interpreter, that one for the moment."""
    saved, sys.executable = sys.executable, interpreter
    try:
        yield
    finally:
        sys.executable = saved


# -- all of them --------------------------------------------------------------------------------------
def run_checks(interpreter: str = sys.executable) -> list[Result]:
    results = [_safely("root", check_root), _safely("sandbox uids", check_uid_range)]
    results += [_safely("uid locks", check_lock_folder), _safely("leftover processes", check_leftover_processes)]
    as_sandbox = [
        ("interpreter", check_interpreter),
        ("no passwd entry", check_without_account),
        ("limits", check_limits),
    ]
    try:
        identity = SandboxIdentity.acquire()  # one uid for these, as a grading would take it
    except IsolationError as problem:
        results += [Result(name, FAIL, f"no sandbox uid to check with: {problem}") for name, _ in as_sandbox]
    else:
        try:
            results += [_safely(name, lambda c=check: c(interpreter, identity)) for name, check in as_sandbox]
        finally:
            if identity is not None:
                identity.release()
    results += [_safely("namespaces", check_namespaces), _safely("temporary places", check_temporary_places)]
    results.append(_safely("end-to-end", lambda: check_end_to_end(interpreter)))
    return results


def _safely(name: str, check) -> Result:
    try:
        return check()
    except Exception as error:  # noqa: BLE001 - a doctor that crashes tells nothing
        return Result(name, FAIL, f"the check itself failed: {type(error).__name__}: {error}", "report this bug")


def format_report(results: list[Result], width: int = 110) -> str:
    name_width = max(len("check"), *(len(r.check) for r in results))
    indent = " " * (name_width + 10)
    lines = [f"{'check':<{name_width}}  status  found"]
    for result in results:
        found = textwrap.wrap(result.found, width - len(indent), break_on_hyphens=False) or [""]
        lines.append(f"{result.check:<{name_width}}  {result.status:<6}  {found[0]}")
        lines += [indent + line for line in found[1:]]
        if result.fix:
            fix = textwrap.wrap(f"fix: {result.fix}", width - len(indent), break_on_hyphens=False)
            lines += [indent + line for line in fix]
    counts = {status: sum(r.status == status for r in results) for status in (OK, WARN, FAIL, SKIP)}
    verdict = "this machine cannot grade" if counts[FAIL] else "this machine can grade"
    lines.append("\n" + f"{verdict}: " + ", ".join(f"{n} {status}" for status, n in counts.items() if n))
    return "\n".join(lines)


def doctor(as_json: bool = False, interpreter: str = sys.executable) -> int:
    """Run every check and print them; 1 if anything FAILs, else 0."""
    results = run_checks(interpreter)
    print(json.dumps([asdict(r) for r in results], indent=2) if as_json else format_report(results))
    return 1 if any(r.status == FAIL for r in results) else 0
