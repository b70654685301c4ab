"""`Program`: steps run in the sandbox in one round trip, for objects that cannot cross the channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autograder.sandbox.channel import encode


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

    max_depth: when set, the steps run under Python's default recursion limit and fail if the
    student's calls nest deeper than this (for code the notebook asks to write without recursion;
    `sys.setrecursionlimit` does not help, see `autograder.sandbox.server.DepthWatch`).
    """

    def __init__(self, label: str, max_depth: int | None = None):
        self.label = label
        self.max_depth = max_depth
        self.steps: list[dict] = []

    def _add(self, step: dict) -> Ref:
        self.steps.append(step)
        return Ref(len(self.steps) - 1)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Ref:
        """The student's global `name` called with `args` and `kwargs`."""
        return self._add({"kind": "call", "name": name, "args": list(args), "kwargs": kwargs})

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

    def node(self, cls: str, data: float, children: list[Ref], local_grads: list[float], op: str) -> Ref:
        """A node of the grader's own: ``out = cls(data, (child, ...), op)``, then its ``_backward``
        set to a function that adds ``local_grad * out.grad`` into each child's ``grad``. Only an
        engine whose backward() calls each node's ``_backward`` sends gradient through it."""
        pairs = [value for child, local in zip(children, local_grads) for value in (child, float(local))]
        return self._add({"kind": "node", "name": cls, "args": [float(data), op, *pairs]})

    def add_noise(
        self, name: str, positions: int | list[int] | None, seed: int, scale: float, key: list[int] | None = None
    ) -> Ref:
        """For the rest of this program, the student's global function `name` returns its outputs
        `positions` (None: its only output) changed by small random amounts, drawn call after call
        (`autograder.checks.noise_draws`: a random relative change plus `scale` times standard normal
        noise); with `key` (argument positions), drawn from those arguments' bytes instead
        (`keyed_noise`: the same inputs, the same change). Restored when the program ends. Only a
        caller that passes its real inputs and uses those outputs carries the change on; the grader
        draws the same to compute what it must become."""
        return self._add({"kind": "add_noise", "name": name, "args": [positions, int(seed), float(scale), key]})

    def noise_calls(self, name: str) -> Ref:
        """How many times the function an `add_noise` step changed has been called so far."""
        return self._add({"kind": "noise_calls", "name": name})

    def backward_calls(self, node: Ref) -> Ref:
        """How many times the `_backward` that `node` (a `node` step) got from the grader was called."""
        return self._add({"kind": "backward_calls", "slot": node.slot})

    def backward_upstreams(self, node: Ref) -> Ref:
        """The node's `grad` (the upstream gradient) at each call of the `_backward` the grader gave it."""
        return self._add({"kind": "backward_upstreams", "slot": node.slot})

    def encoded_steps(self, arrays: list) -> list[dict]:
        def argument(value: Any) -> dict:
            return {"slot": value.slot} if isinstance(value, Ref) else {"value": encode(value, arrays, None)}

        return [
            dict(
                step,
                args=[argument(a) for a in step.get("args", [])],
                kwargs={key: argument(v) for key, v in step.get("kwargs", {}).items()},
            )
            for step in self.steps
        ]
