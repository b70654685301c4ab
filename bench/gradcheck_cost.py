"""Benchmark: the cost of gradient checks, elementwise versus random directions.

For the linear layer's dW at a few sizes, counts forward calls and times the grader's numerical
gradient (every element: 2 forward calls per parameter) against the directional check (12 random
directions: 24 forward calls whatever the size), and prints seconds per checked parameter.

    python bench/gradcheck_cost.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.checks import directional_check, numerical_gradient  # noqa: E402

SIZES = [(4, 5, 3), (16, 32, 16), (32, 64, 64), (64, 128, 96)]


def main() -> None:
    rng = np.random.default_rng(0)
    print(
        f"{'N x D x M':>14} {'params':>8} | {'elementwise calls':>17} {'s':>8} {'s/param':>9} | "
        f"{'directions calls':>16} {'s':>8} {'s/param':>9}"
    )
    for n, d, m in SIZES:
        x, W, b, dout = (
            rng.standard_normal((n, d)),
            rng.standard_normal((d, m)),
            rng.standard_normal(m),
            rng.standard_normal((n, m)),
        )
        calls = [0]

        def forward(value, x=x, b=b, calls=calls):
            calls[0] += 1
            return x @ value + b

        started = time.perf_counter()
        numerical_gradient(forward, W.copy(), dout)
        elementwise_seconds, elementwise_calls = time.perf_counter() - started, calls[0]
        calls[0] = 0
        started = time.perf_counter()
        directional_check(x.T @ dout, forward, W, dout, "linear_backward", "dW", directions=12)
        directional_seconds, directional_calls = time.perf_counter() - started, calls[0]
        print(
            f"{f'{n}x{d}x{m}':>14} {W.size:>8} | {elementwise_calls:>17} {elementwise_seconds:>8.3f} "
            f"{elementwise_seconds / W.size:>9.1e} | {directional_calls:>16} {directional_seconds:>8.4f} "
            f"{directional_seconds / W.size:>9.1e}"
        )


if __name__ == "__main__":
    main()
