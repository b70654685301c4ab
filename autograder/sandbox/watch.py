"""In the sandbox: where a request is stuck, and stand-ins for functions that hung before.

A function that never returns (``while True: pass`` in ``relu_backward``) would otherwise cost a
full timeout in every cell and every test that reaches it, directly or through other functions.
So while a request runs, `Watchdog` samples the main thread's stack; shortly before the request's
deadline it writes to the report pipe which notebook functions are on the stack and for how long
their current call has been running. The grader (which owns the deadline) reads that after a
timeout, names the function that hung, and from then on the sandbox compiles that function, in
that cell only, as a stand-in that raises at once (`StandIns`): later calls cost nothing, and
their error says what happened. Nothing here can raise a grade: a lie only disables the liar's
own functions.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import threading
import time

CELL_FILENAME = "<cell {index}>"  # what each cell's code is compiled as (see Server)


def cell_index(filename: str) -> int | None:
    """12 for "<cell 12>", else None (library code)."""
    if filename.startswith("<cell ") and filename.endswith(">"):
        try:
            return int(filename[6:-1])
        except ValueError:
            return None
    return None


class Watchdog(threading.Thread):
    """Samples the main thread's stack every `interval` s while a request is armed; at 80% of the
    request's time (at most 2 s before its deadline) writes one JSON line to `report_fd`:
    ``{"id": request id, "stack": [{"cell", "name", "line", "seconds"}, ...]}`` for the frames
    of notebook code, innermost first, `seconds` being how long that call has been running."""

    def __init__(self, report_fd: int, main_thread_id: int, interval: float = 0.2):
        super().__init__(daemon=True, name="nn-autograder-watchdog")
        self.report_fd = report_fd
        os.set_blocking(report_fd, False)  # a pipe the notebook filled must not stall the watchdog
        self.main_thread_id = main_thread_id
        self.interval = interval
        self.condition = threading.Condition()
        self.armed: tuple[int, float, float] | None = None  # (request id, report at, started)
        self.seen: list[tuple[object, float]] = []  # (frame, first seen): strong refs keep ids unique

    def arm(self, request_id: int, timeout: float) -> None:
        now = time.monotonic()
        with self.condition:
            self.armed = (request_id, now + timeout - min(2.0, 0.2 * timeout), now)
            self.seen = []
            self.condition.notify()

    def disarm(self) -> None:
        with self.condition:
            self.armed = None
            self.seen = []

    def run(self) -> None:
        while True:
            with self.condition:
                while self.armed is None:
                    self.condition.wait()
                self.condition.wait(self.interval)
                armed = self.armed
                if armed is None:
                    continue
                self._sample()
                if time.monotonic() >= armed[1]:
                    self._report(armed[0])
                    self.armed = None
                    self.seen = []

    def _sample(self) -> None:
        frame = sys._current_frames().get(self.main_thread_id)
        stack = []
        while frame is not None:
            if cell_index(frame.f_code.co_filename) is not None:
                stack.append(frame)
            frame = frame.f_back
        now = time.monotonic()
        first_seen = {id(f): t for f, t in self.seen}
        self.seen = [(f, first_seen.get(id(f), now)) for f in stack]  # stack holds refs: ids stay unique

    def _report(self, request_id: int) -> None:
        now = time.monotonic()
        stack = [
            {
                "cell": cell_index(frame.f_code.co_filename),
                "name": frame.f_code.co_name,
                "line": frame.f_lineno,
                "seconds": round(now - since, 2),
            }
            for frame, since in self.seen
        ]
        try:
            os.write(self.report_fd, (json.dumps({"id": request_id, "stack": stack[:50]}) + "\n").encode())
        except OSError:
            pass


class StandIns(ast.NodeTransformer):
    """An IPython AST transformer: in cell `index`, each function named in `hung[index]` gets the
    body ``raise RuntimeError(message)``; other cells and other functions are left as written."""

    def __init__(self) -> None:
        super().__init__()
        self.hung: dict[int, dict[str, str]] = {}
        self.cell: int | None = None

    def update(self, entries: list) -> None:
        """entries: [[cell, name, message], ...] as the grader sends them."""
        for entry in entries:
            try:
                cell, name, message = int(entry[0]), str(entry[1]), str(entry[2])
            except (TypeError, ValueError, IndexError):
                continue
            self.hung.setdefault(cell, {})[name] = message

    def visit_Module(self, node: ast.Module) -> ast.Module:
        if self.cell in self.hung:
            self.generic_visit(node)
        return node

    def _replace(self, node):
        message = self.hung.get(self.cell, {}).get(node.name)
        self.generic_visit(node)
        if message is not None:
            error = ast.Call(ast.Name("RuntimeError", ast.Load()), [ast.Constant(message)], [])
            node.body = [ast.Raise(exc=error, cause=None)]
            ast.fix_missing_locations(node)
        return node

    visit_FunctionDef = _replace
    visit_AsyncFunctionDef = _replace
