"""The sandbox: the submission's code in a separate, unprivileged process, reached through a
channel that carries plain data only.

Grader side (trusted):
- `run`: `NotebookRun` (a notebook's cells in a sandbox, restarted as needed) and
  `StudentNamespace` (what a hidden test sees: ``student.relu_forward(x)``);
- `process`: one sandbox process (`Sandbox`), its `Limits`, and how it fails;
- `isolation`: the grading's own uid, namespaces, and cleaning up after the sandbox;
- `program`: `Program`, steps run in the sandbox on objects that cannot cross the channel.

Both sides: `channel` (the plain-data messages). Sandbox side (untrusted): `server` (runs the
cells and answers calls) and `watch` (where a request is stuck; stand-ins for hung functions).
"""

from autograder.sandbox.isolation import IsolationError, SandboxIdentity, become_subreaper, isolation_mode
from autograder.sandbox.process import Limits, SandboxDied, SandboxUnavailable
from autograder.sandbox.program import Program, Ref
from autograder.sandbox.run import CallResult, Cell, CellOutcome, NotebookRun, StudentError, StudentNamespace

__all__ = [
    "CallResult",
    "Cell",
    "CellOutcome",
    "IsolationError",
    "Limits",
    "NotebookRun",
    "Program",
    "Ref",
    "SandboxDied",
    "SandboxIdentity",
    "SandboxUnavailable",
    "StudentError",
    "StudentNamespace",
    "become_subreaper",
    "isolation_mode",
]
