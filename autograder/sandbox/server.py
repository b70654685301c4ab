"""The sandbox process: runs a submission's cells and answers the grader's calls.

Started by `autograder.sandbox.process.Sandbox` as
``python -I -m autograder.sandbox.server READ_FD WRITE_FD REPORT_FD [--uid U --gid G] [--private-tmp BYTES]``,
resource-limited; in namespaces mode it is PID 1 of fresh namespaces, still root, and first mounts
private temporary folders and drops to the uid. It sends ``{"op": "ready"}`` only once it is
unprivileged and has imported numpy, IPython and matplotlib: anything that fails before that is
the grader's installation, not the submission. Everything the student wrote runs here, in an IPython
shell, so magics, ``!`` lines, ``display()`` and matplotlib behave as in a notebook. The grader
drives it with these requests (see `autograder.sandbox.channel` for the framing); each carries
"id" and "timeout" (the grader's deadline, for the `Watchdog`):

    {"op": "run_cell", "cell": index, "source": str, "checkpoints": [question, ...], "hung": [[cell, name, message]]}
        -> {"ok": bool, "error": str | None, "fatal": bool, "output": str}
    {"op": "call", "question": str | None, "name": str, "args": [...], "kwargs": {...}}
        -> {"ok": true, "value": tagged, "args_after": [...], "output": str}
         | {"ok": false, "error": "ValueError: ...", "output": str}
    {"op": "call", ..., "get": true}  -> the value of the variable `name` instead of a call
    {"op": "program", "question": str | None, "steps": [...], "returns": [slot, ...], "max_depth": int | None}
        -> {"ok": true, "values": [...]} | {"ok": false, "error": str, "step": int}
        (max_depth: the steps run under Python's default recursion limit and may not nest calls
        deeper than that; see `DepthWatch`; the kinds of steps: `autograder.sandbox.Program`)
    {"op": "release", "ids": [int, ...]} -> {"ok": true}

A checkpoint is a copy of the student's names as they stood right after the cell holding
``grader.check("<question>")``; calls for that question run with those names in place. Objects
that are not plain data stay here as handles. Nothing in this process is trusted by the grader.
"""

from __future__ import annotations

import contextlib
import io
import operator
import os
import sys
import threading
import traceback
import types

from autograder.sandbox.watch import CELL_FILENAME, StandIns, Watchdog

OUTPUT_LIMIT_PER_REQUEST = 8 * 1024
OUTPUT_LIMIT_TOTAL = 256 * 1024


CHECKPOINT_COPY_BYTES = 128 * 1024**2  # arrays copied per checkpoint; beyond that, kept by reference


def checkpoint_of(namespace: dict) -> dict:
    """The student's names as they stand now: a new dict whose numpy arrays (also inside lists,
    tuples and dicts, aliases kept as aliases) are copies, so that a later cell changing an array
    in place (``W1[0] = 0``) does not change what the question is graded on. Other objects are
    shared; past CHECKPOINT_COPY_BYTES in all, arrays are shared too."""
    left = [CHECKPOINT_COPY_BYTES]
    copies: dict[int, object] = {}

    def frozen(value, depth: int):
        if id(value) in copies:
            return copies[id(value)]
        kind = type(value)
        try:
            if kind.__module__ == "numpy" and kind.__name__ == "ndarray" and value.nbytes <= left[0]:
                left[0] -= value.nbytes
                result = value.copy()
            elif kind in (list, tuple) and depth < 3:
                result = kind(frozen(item, depth + 1) for item in value)
            elif kind is dict and depth < 3:
                result = {key: frozen(item, depth + 1) for key, item in value.items()}
            else:
                return value
        except Exception:  # noqa: BLE001 - whatever the student's objects do, the name is kept as it is
            return value
        copies[id(value)] = result
        return result

    return {name: frozen(value, 0) for name, value in namespace.items()}


def as_plain_containers(value, depth: int = 0):
    """A function's result with dict subclasses (OrderedDict, defaultdict: str keys) made plain
    dicts at any depth below 3, and a tuple or list subclass (a namedtuple such as
    ``Forward(out, cache)``) made a plain tuple or list at the top: the notebook's "returns a tuple"
    and "a dict" hold for them. Other objects (a namedtuple cache inside) are left as they are and
    stay in the sandbox as handles. Only the containers are copied, read through the base class."""
    kind = type(value)
    if depth >= 3:
        return value
    if isinstance(value, dict) and all(type(key) is str for key in dict.keys(value)):
        return {key: as_plain_containers(item, depth + 1) for key, item in dict.items(value)}
    if kind in (tuple, list) or (depth == 0 and isinstance(value, (tuple, list))):
        base = tuple if isinstance(value, tuple) else list
        return base(as_plain_containers(item, depth + 1) for item in base.__iter__(value))
    return value


def handle_type_name(value) -> str:
    """What a handle says its object is: the type's name, and for a numpy array that cannot be
    sent (an object dtype, a subclass) its dtype and shape, so that a message can name them."""
    kind = type(value)
    try:
        if kind.__module__.startswith("numpy") and hasattr(value, "dtype") and hasattr(value, "shape"):
            return f"{kind.__name__} of dtype {value.dtype} and shape {tuple(value.shape)}"
    except Exception:  # noqa: BLE001 - a student's object whose attributes raise keeps its bare name
        pass
    return kind.__name__


class CappedOutput(io.TextIOBase):
    """A stdout/stderr replacement that keeps at most a few kilobytes of what is printed."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0
        self.total_kept = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = min(OUTPUT_LIMIT_PER_REQUEST - self.kept, OUTPUT_LIMIT_TOTAL - self.total_kept)
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(len(text), room)
            self.total_kept += min(len(text), room)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped} more characters of output not kept]"
        self.parts, self.kept, self.dropped = [], 0, 0
        return text


def _install_otter_stand_in() -> None:
    """`import otter` in the notebook gets this: the grader runs its own checks, not otter's."""
    otter = types.ModuleType("otter")

    class Notebook:
        def __init__(self, *args, **kwargs):
            pass

        def check(self, *args, **kwargs):
            return None

        def check_all(self, *args, **kwargs):
            return None

        def export(self, *args, **kwargs):
            return None

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    otter.Notebook = Notebook
    sys.modules["otter"] = otter


def _where(error: BaseException) -> str:
    """The student's line where an exception was raised, if any: " (line 4: return out, cache)"."""
    frames = traceback.extract_tb(error.__traceback__)
    cells = [f for f in frames if f.filename.startswith("<")]  # the notebook's cells, not library code
    frame = (cells or [f for f in frames if not f.filename.endswith("server.py")] or [None])[-1]
    return f" (line {frame.lineno}: {frame.line})" if frame is not None and frame.line else ""


def _describe_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:500] + " ..."


SHAPE_WORDS = ("shape", "dimension", "broadcast", "align", "mismatch", "size")


def _shapes_received(function, args: list, kwargs: dict, error: BaseException) -> str:
    """For an error about shapes (numpy's "matmul: Input operand 1 has a mismatch ..."), the shapes
    of the arrays the function received, by parameter name: " It received x (4, 5), W (5, 3)."."""
    if not any(word in str(error) for word in SHAPE_WORDS):
        return ""
    try:
        import inspect

        bound = inspect.signature(function).bind(*args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = {f"argument {i + 1}": a for i, a in enumerate(args)} | kwargs
    shapes = [f"{name} {tuple(value.shape)}" for name, value in bound.items() if type(value).__module__ == "numpy"]
    if not shapes:
        return ""
    implied = ""
    if "matmul" in str(error) or "not aligned" in str(error):
        implied = (
            " In a @ b, the last dimension of a must equal the first dimension of b (the second to last, for 3-D b)."
        )
    elif "broadcast" in str(error):
        implied = " Elementwise operations need equal shapes, or dimensions of 1 that numpy can stretch, aligned from the right."
    return f" It received {', '.join(shapes)}.{implied}"


def _frame_depth() -> int:
    depth, frame = 0, sys._getframe(1)
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


class DepthWatch:
    """Run steps under Python's default recursion limit and measure how deeply their calls nest.

    The notebook asks for code "without recursion" (hw2's topological sort); a recursive version
    that raises the limit with `sys.setrecursionlimit` would otherwise pass a deep graph. While
    active, the limit is `max_depth` calls above the caller, a profile hook records the deepest
    nesting, also in threads the steps start (through `threading` or `_thread`: a recursive sort
    run in a thread that raised the limit there and restored it before joining got full marks),
    and `problem()` names what the student's code did: nested deeper than `max_depth`, changed the
    limit, removed the hook, or left a thread the hook could not follow to its end. Not covered: a
    thread started through a freshly re-imported `_thread` module or ctypes."""

    active: DepthWatch | None = None  # the watch now running (one at a time), seen by `audit`
    own = threading.local()  # .calling: the watch itself is calling sys.setprofile in this thread

    @classmethod
    def audit(cls, event: str, args: tuple) -> None:
        """An audit hook, added before any student code runs (hooks cannot be removed): a
        sys.setprofile call by the student's code while a watch runs is remembered, even when the
        code puts the hook back before the watch ends (red team hw2 round 5: a recursive sort
        under sys.setprofile(None), the hook restored afterwards, kept the no-recursion point)."""
        if event == "sys.setprofile" and cls.active is not None and not getattr(cls.own, "calling", False):
            cls.active._profile_changed = True

    def _own_setprofile(self, hook) -> None:
        DepthWatch.own.calling = True
        try:
            sys.setprofile(hook)
        finally:
            DepthWatch.own.calling = False

    def __init__(self, max_depth: int):
        self.max_depth = max_depth
        self._profile_changed = False
        self.deepest = 0
        self._current = 0
        self._threads: dict[int, list[int]] = {}  # thread ident -> [calls open now]

    def _hook(self, frame, event, arg) -> None:
        if event == "call":
            self._current += 1
            self.deepest = max(self.deepest, self._current)
        elif event == "return":
            self._current -= 1

    def _thread_hook(self, frame, event, arg) -> None:
        state = self._threads.setdefault(threading.get_ident(), [0])
        if event == "call":
            state[0] += 1
            self.deepest = max(self.deepest, state[0])
        elif event == "return":
            state[0] -= 1

    def _start_watched(self, function, args, kwargs=None):
        """`_thread.start_new_thread`, with this watch's hook in the new thread from its first call."""
        hook = self._thread_hook

        def run(*run_args, **run_kwargs):
            self._own_setprofile(hook)
            try:
                return function(*run_args, **run_kwargs)
            finally:
                self._own_setprofile(None)

        return self._start_new_thread(run, args, kwargs or {})

    def __enter__(self) -> DepthWatch:
        import _thread

        self._saved_limit = sys.getrecursionlimit()
        self._limit = _frame_depth() + self.max_depth + 20
        sys.setrecursionlimit(max(self._limit, 1000))
        self._limit = sys.getrecursionlimit()
        self._start_new_thread = _thread.start_new_thread
        _thread.start_new_thread = threading._start_new_thread = self._start_watched
        self._own_setprofile(self._hook)
        DepthWatch.active = self
        return self

    def __exit__(self, *exc_info) -> None:
        import _thread

        DepthWatch.active = None
        self._hook_removed = sys.getprofile() != self._hook or self._profile_changed
        self._own_setprofile(None)
        self._hook_removed |= not (_thread.start_new_thread == threading._start_new_thread == self._start_watched)
        _thread.start_new_thread = threading._start_new_thread = self._start_new_thread
        self._threads_unfinished = any(open_calls > 0 for (open_calls,) in self._threads.values())
        self._limit_changed = sys.getrecursionlimit() != self._limit
        sys.setrecursionlimit(self._saved_limit)

    def problem(self) -> str:
        if self._limit_changed:
            return (
                "RecursionError: the code changed Python's recursion limit (sys.setrecursionlimit); this "
                "check runs with the default limit, and the notebook asks for no recursion"
            )
        if self.deepest > self.max_depth:
            return (
                f"RecursionError: the calls nested {self.deepest} deep (a recursive function?); "
                f"this check allows {self.max_depth}: the notebook asks for no recursion"
            )
        if self._hook_removed:
            return (
                "RuntimeError: the code called sys.setprofile or replaced how threads start, which this check needs "
                "for itself (to see how deeply calls nest: the notebook asks for no recursion)"
            )
        if self._threads_unfinished:
            return (
                "RuntimeError: the code started a thread that this check could not follow to its end "
                "(it removed the check's profile hook, or was still running); backward needs no threads"
            )
        return ""


def _adds_local_gradients(out, children: list, local_grads: list):
    """A grader-made node's _backward: child.grad += local_grad * out.grad for each child. It counts
    its calls (`_backward.calls`, read by a `backward_calls` step) and keeps out.grad at each call
    (`_backward.upstreams`, read by a `backward_upstreams` step)."""

    def _backward():
        _backward.calls += 1
        upstream = out.grad
        try:
            _backward.upstreams.append(float(upstream))
        except (TypeError, ValueError):
            _backward.upstreams.append(float("nan"))
        for child, local in zip(children, local_grads):
            child.grad += local * upstream

    _backward.calls = 0
    _backward.upstreams = []  # out.grad at each call: backpropagation's dloss/dout when it runs
    return _backward


class Server:
    def __init__(self, endpoint, shell, output: CappedOutput, watchdog: Watchdog, stand_ins: StandIns):
        from autograder.sandbox import channel

        self.channel = channel
        self.endpoint = endpoint
        self.shell = shell
        self.output = output
        self.watchdog = watchdog
        self.stand_ins = stand_ins
        self.checkpoints: dict[str, dict] = {}
        self.handles: dict[int, object] = {}
        self.next_handle = 1
        self.pid = os.getpid()
        self.request_id = None

    def to_handle(self, value) -> dict:
        handle_id = self.next_handle
        self.next_handle += 1
        self.handles[handle_id] = value
        return {"t": "handle", "id": handle_id, "type": handle_type_name(value)}

    def resolve(self, value):
        """Replace handles sent back by the grader with the objects they stand for."""
        if type(value) is self.channel.Handle:
            if value.id not in self.handles:
                raise LookupError("an object from an earlier run of the notebook was sent back")
            return self.handles[value.id]
        if type(value) in (list, tuple):
            return type(value)(self.resolve(v) for v in value)
        if type(value) is dict:
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def reply(self, header: dict, value_fields: dict | None = None) -> None:
        if os.getpid() != self.pid:  # a process the student forked never speaks on the channel
            os._exit(0)
        arrays: list = []
        header = dict(header, output=self.output.take(), id=self.request_id)
        try:
            for key, value in (value_fields or {}).items():
                header[key] = self.channel.encode(value, arrays, self.to_handle)
            self.channel.pack(header, arrays)  # the fields together may still be over the limits
        except Exception as error:  # an unsendable value is the student's problem, not ours
            header = {
                "ok": False,
                "error": f"the result could not be sent to the grader ({error})",
                "output": header["output"],
                "id": self.request_id,
            }
            arrays = []
        self.endpoint.send(header, arrays)

    def run_cell(self, request: dict, arrays: list) -> None:
        self.stand_ins.update(request.get("hung", []))
        self.stand_ins.cell = int(request.get("cell", -1))
        result = self.shell.run_cell(str(request["source"]), store_history=False)
        error = result.error_before_exec or result.error_in_exec
        for question in request.get("checkpoints", []):
            self.checkpoints[question] = checkpoint_of(self.shell.user_ns)
        # After a MemoryError the notebook may hold on to what it allocated: start afresh without it.
        fatal = isinstance(error, MemoryError)
        self.reply({"ok": error is None, "error": None if error is None else _describe_error(error), "fatal": fatal})

    @contextlib.contextmanager
    def names_at(self, question: str | None):
        """The student's names as they stood at `question`'s checkpoint, for the duration."""
        namespace = self.shell.user_ns
        snapshot = self.checkpoints.get(question)
        if snapshot is None:
            yield namespace
            return
        saved = dict(namespace)
        namespace.clear()
        namespace.update(snapshot)
        try:
            yield namespace
        finally:
            namespace.clear()
            namespace.update(saved)

    def call(self, request: dict, arrays: list) -> None:
        with self.names_at(request.get("question")) as namespace:
            name = request["name"]
            if name not in namespace:
                self.reply({"ok": False, "error": f"NameError: {name} is not defined", "missing": True})
                return
            function = namespace[name]
            if request.get("get"):  # the value of a variable, not a call
                self.reply({"ok": True}, {"value": as_plain_containers(function), "args_after": []})
                return
            if not callable(function):
                error = f"TypeError: {name} is a {type(function).__name__}, not a function"
                self.reply({"ok": False, "error": error, "missing": True})
                return
            args = [self.resolve(self.channel.decode(a, arrays)) for a in request.get("args", [])]
            kwargs = {k: self.resolve(self.channel.decode(v, arrays)) for k, v in request.get("kwargs", {}).items()}
            try:
                value = function(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - SystemExit in student code is an error too
                received = _shapes_received(function, args, kwargs, error)
                self.reply({"ok": False, "error": _describe_error(error) + _where(error) + received})
                return
            value = as_plain_containers(value)
            keep = set(request.get("keep", []))
            if keep and type(value) in (tuple, list):  # e.g. the cache of (out, cache) stays here
                value = type(value)(
                    self.channel.Handle(self.to_handle(v)["id"], handle_type_name(v)) if i in keep else v
                    for i, v in enumerate(value)
                )
            self.reply({"ok": True}, {"value": value, "args_after": args})

    def program(self, request: dict, arrays: list) -> None:
        """Run a list of steps on objects that never leave the sandbox (see autograder.sandbox.Program)
        and send back the values of the requested slots."""
        slots: list = []

        def argument(tagged):
            return (
                slots[tagged["slot"]]
                if "slot" in tagged
                else self.resolve(self.channel.decode(tagged["value"], arrays))
            )

        max_depth = request.get("max_depth")
        watch = DepthWatch(int(max_depth)) if isinstance(max_depth, int) else contextlib.nullcontext()
        with self.names_at(request.get("question")) as namespace:
            replaced: dict = {}  # names an add_noise step replaced -> what they were
            try:
                with watch:
                    failed = self._run_steps(request, namespace, slots, argument, replaced)
            finally:
                namespace.update(replaced)
            if failed:
                return
            if isinstance(watch, DepthWatch) and watch.problem():
                self.reply({"ok": False, "error": watch.problem()})
                return
            self.reply({"ok": True}, {"values": [as_plain_containers(slots[i]) for i in request.get("returns", [])]})

    def _run_steps(self, request: dict, namespace: dict, slots: list, argument, replaced: dict) -> bool:
        """The program's steps in order; on the first error, reply with it and return True."""
        made: dict = {}  # slot of a `node` step -> the _backward the grader gave it; name -> with_noise's function
        for index, step in enumerate(request.get("steps", [])):
            try:
                args = [argument(a) for a in step.get("args", [])]
                kwargs = {key: argument(v) for key, v in step.get("kwargs", {}).items()}
                kind = step["kind"]
                if kind == "call":
                    if step["name"] not in namespace:
                        self.reply({"ok": False, "error": f"NameError: {step['name']} is not defined", "missing": True})
                        return True
                    slots.append(namespace[step["name"]](*args, **kwargs))
                elif kind == "method":
                    slots.append(getattr(slots[step["slot"]], step["name"])(*args))
                elif kind == "operator":
                    slots.append(getattr(operator, step["name"])(*args))
                elif kind == "getattr":
                    slots.append(getattr(slots[step["slot"]], step["name"]))
                elif kind == "setattr":
                    setattr(slots[step["slot"]], step["name"], args[0])
                    slots.append(None)
                elif kind == "item":
                    slots.append(slots[step["slot"]][step["index"]])
                elif kind == "node":
                    data, op, pairs = args[0], args[1], args[2:]
                    out = namespace[step["name"]](data, tuple(pairs[0::2]), op)
                    out._backward = made[index] = _adds_local_gradients(out, pairs[0::2], pairs[1::2])
                    slots.append(out)
                elif kind == "add_noise":
                    name = step["name"]
                    replaced.setdefault(name, namespace[name])
                    from autograder.checks import with_noise  # not before the sandbox drops its privileges

                    namespace[name] = made[name] = with_noise(namespace[name], *args)
                    slots.append(None)
                elif kind == "noise_calls":
                    slots.append(made[step["name"]].calls)
                elif kind == "backward_calls":
                    slots.append(made[step["slot"]].calls)
                elif kind == "backward_upstreams":
                    slots.append(list(made[step["slot"]].upstreams))
                else:
                    raise ValueError(f"unknown step {kind!r}")
            except BaseException as error:  # noqa: BLE001
                self.reply({"ok": False, "error": _describe_error(error) + _where(error), "step": index})
                return True
        return False

    def serve(self) -> None:
        while True:
            try:
                request, arrays = self.endpoint.receive()
            except self.channel.ChannelError:
                return
            if os.getpid() != self.pid:
                os._exit(0)
            self.request_id = request.get("id")
            op = request.get("op")
            if op in ("run_cell", "call", "program"):
                self.watchdog.arm(self.request_id, float(request.get("timeout", 30.0)))
                try:
                    getattr(self, op)(request, arrays)
                finally:
                    self.watchdog.disarm()
            elif op == "release":
                for handle_id in request.get("ids", []):
                    self.handles.pop(handle_id, None)
                self.reply({"ok": True})
            elif op == "exit":
                return
            else:
                self.reply({"ok": False, "error": f"unknown request {op!r}"})


def _option(arguments: list[str], name: str) -> str | None:
    return arguments[arguments.index(name) + 1] if name in arguments else None


def main() -> None:
    read_fd, write_fd, report_fd = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    options = sys.argv[4:]
    if options:  # namespaces mode: still root, in fresh namespaces; nothing of the student's has run
        from autograder.sandbox.isolation import drop_privileges, enter_private_mounts

        uid, gid = int(_option(options, "--uid")), int(_option(options, "--gid"))
        if _option(options, "--private-tmp"):
            enter_private_mounts(os.getcwd(), int(_option(options, "--private-tmp")), uid, gid)
        drop_privileges(uid, gid)
    os.environ.setdefault("MPLBACKEND", "Agg")
    library = os.path.dirname(os.__file__)
    if not os.access(library, os.R_OK | os.X_OK):
        sys.exit(
            f"uid {os.getuid()} cannot read this Python's standard library ({library}): the grader must be installed in a Python every user can read"
        )
    import matplotlib  # noqa: F401  - loaded before student code so a failure here is ours
    import numpy  # noqa: F401
    from IPython.core.interactiveshell import InteractiveShell

    from autograder.sandbox.channel import Endpoint

    endpoint = Endpoint(read_fd, write_fd)
    output = CappedOutput()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # C-level and subprocess output goes nowhere; Python's goes to `output`
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = output
    _install_otter_stand_in()
    sys.addaudithook(DepthWatch.audit)  # before any student code: audit hooks cannot be removed
    shell = InteractiveShell.instance(colors="NoColor")
    shell.history_manager.enabled = False
    shell.enable_gui = lambda *args, **kwargs: None  # %matplotlib inline: no GUI loop to start
    shell.displayhook.write_output_prompt = lambda: None
    stand_ins = StandIns()
    shell.ast_transformers.append(stand_ins)
    # every cell's code is compiled as "<cell N>" (N: its index among code cells), replays included
    shell.compile.get_code_name = lambda raw, transformed, number: CELL_FILENAME.format(index=stand_ins.cell)
    watchdog = Watchdog(report_fd, threading.get_ident())
    watchdog.start()
    sys.argv = ["notebook"]
    endpoint.send({"op": "ready", "uid": os.getuid()})
    Server(endpoint, shell, output, watchdog, stand_ins).serve()
    os._exit(0)


if __name__ == "__main__":
    main()
