"""Benchmark: a correct but slow linear backward against the grader's speed bound.

hw1's backward points need a backward that finishes, at the probe size, within a tenth of what the
cheapest finite-difference pass costs on the same machine at that moment (at most 30 s). This
prints, side by side in alternating rounds at the probe size (x (2, 200000), W (200000, 3)):

- the grader's numpy chain-rule backward;
- the plain-Python triple loop of the catalogue variant "linear: plain-Python triple-loop backward
  (slow but a real backward)", its code read from solutions/hw1_layers/catalogue.toml;
- the grader's finite-difference estimate and the bound it gives (`backward_seconds_bound`);

and the loop's share of the bound (below 1 keeps the points).

    python bench/backward_speed.py [rounds]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import tomllib

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "solutions" / "hw1_layers")]

import test_hw1_layers as hidden  # noqa: E402

from autograder.checks import backward_seconds_bound  # noqa: E402

TRIPLE_LOOP_VARIANT = "linear: plain-Python triple-loop backward (slow but a real backward)"


def triple_loop_backward():
    """The catalogue variant's linear_backward(dout, cache), compiled from its text."""
    catalogue = tomllib.loads((ROOT / "solutions" / "hw1_layers" / "catalogue.toml").read_text())
    (variant,) = [v for v in catalogue["variant"] if v["name"] == TRIPLE_LOOP_VARIANT]
    namespace = {"np": np}
    exec(variant["insert"][0][1], namespace)
    return namespace["linear_backward"]


def seconds(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main(rounds: int = 3) -> None:
    loop_backward = triple_loop_backward()
    (x, W, b), dout, _, forward = hidden.large_problem("linear", np.random.default_rng(2024))
    exact = hidden.chain_rule_backward("linear", (x, W, b), dout)
    for name, mine, right in zip(("dx", "dW", "db"), loop_backward(dout, (x, W)), exact):
        assert np.allclose(mine, right), f"the triple loop's {name} is wrong"

    sizes = hidden.sizes_text("linear", (x, W, b))
    print(f"linear backward at the probe, {sizes}; {rounds} alternating rounds, seconds")
    print(f"{'round':>5} {'chain rule':>11} {'triple loop':>12} {'fd estimate':>12} {'bound':>7} {'loop/bound':>10}")
    rows = []
    for index in range(rounds):
        chain = seconds(lambda: hidden.chain_rule_backward("linear", (x, W, b), dout))
        loop = seconds(lambda: loop_backward(dout, (x, W)))
        estimate = hidden.finite_difference_estimate("linear", (x, W, b), dout, forward)
        bound = backward_seconds_bound(estimate)
        rows.append((chain, loop, estimate, bound, loop / bound))
        print(f"{index + 1:>5} {chain:>11.4f} {loop:>12.2f} {estimate:>12.1f} {bound:>7.1f} {loop / bound:>10.2f}")
    medians = [statistics.median(column) for column in zip(*rows)]
    print(
        f"{'median':>5} {medians[0]:>11.4f} {medians[1]:>12.2f} {medians[2]:>12.1f} {medians[3]:>7.1f} "
        f"{medians[4]:>10.2f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
