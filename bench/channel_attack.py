"""Benchmark: what a hostile sandbox's reply costs the grader that receives it.

Each case's bytes are written into a pipe read by a fresh process running `Endpoint.receive` (with
the grader's imports), so its peak RSS (ru_maxrss) is that of receiving the message alone. One line
per case: what receive did, the receiver's peak RSS, and how much of it came from receiving.

    python bench/channel_attack.py
"""

from __future__ import annotations

import io
import json
import resource
import struct
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from autograder.sandbox import channel  # noqa: E402


def frame(header: bytes, *parts: bytes) -> bytes:
    return struct.pack(">I", len(header)) + header + b"".join(parts)


def npy_preamble(shape: tuple) -> bytes:
    """The .npy preamble of a float64 array of `shape`: what np.load trusts to allocate."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


CASES = 7


def cases() -> list[tuple[str, bytes]]:
    arrays: list = []
    normal = channel.pack({"ok": True, "value": channel.encode(np.random.rand(64, 300), arrays, None)}, arrays)
    budget = channel.MAX_MESSAGE_BYTES
    forged_16gb = frame(b'{"ok": true, "arrays": 64}', struct.pack(">Q", 250_000_000), bytes(budget))
    full = channel._array_bytes(np.ones(budget // 8 - 16))  # a real array that fills the budget
    over_budget = frame(
        b'{"ok": true, "arrays": 64}', struct.pack(">Q", len(full)), full, struct.pack(">Q", 250_000_000)
    )
    lying = npy_preamble((10**10,)) + bytes(80)
    lying_npy = frame(b'{"ok": true, "arrays": 1}', struct.pack(">Q", len(lying)), lying)
    deep = frame(b"[" * 200_000 + b"]" * 200_000)

    def widest(prefix: bytes) -> bytes:  # a header of empty dicts: the most Python objects per byte
        count = (channel.MAX_HEADER_BYTES - len(prefix) - 4) // 3
        return prefix + b"{}," * count + b"{}]}"

    full_header = frame(widest(b'{"x": ['))
    worst = frame(widest(b'{"arrays": 1, "x": ['), struct.pack(">Q", len(full)), full)
    return [
        ("(a) normal reply, a (64, 300) float64 array", normal),
        ("(b) 64 arrays of 250 MB announced, 64 MiB sent", forged_16gb),
        ("(b') a real 64 MiB array, then 250 MB announced", over_budget),
        ("(c) .npy header claiming 10**10 float64", lying_npy),
        ("(d) header nested 200,000 deep", deep),
        ("(e) 4 MiB header of empty dicts (accepted)", full_header),
        ("(f) (e) and a 64 MiB array: the worst accepted", worst),
    ]


def receive() -> None:
    """The receiving process: one message from stdin; prints what happened as JSON."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        header, arrays = channel.Endpoint(0, -1).receive(timeout=60)
        outcome = f"received: {len(header)} header keys, {len(arrays)} arrays"
    except channel.ChannelError as error:
        outcome = f"{type(error).__name__}: {error}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"outcome": outcome, "before": before / 1024, "peak": peak / 1024}))


def main() -> None:
    print(f"limits: header {channel.MAX_HEADER_BYTES >> 20} MiB, depth {channel.MAX_JSON_DEPTH}, ", end="")
    print(f"{channel.MAX_ARRAYS} arrays, {channel.MAX_MESSAGE_BYTES >> 20} MiB of arrays per message")
    print(f"{'case':50} {'peak RSS':>9} {'receiving':>10}  outcome")
    # Every receiver starts before the messages are built: a process's ru_maxrss keeps the peak
    # of the process it was forked from, so they must be forked while this one is still small.
    receivers = [
        subprocess.Popen([sys.executable, __file__, "--receive"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for _ in range(CASES)
    ]
    for receiver, (name, raw) in zip(receivers, cases()):
        out, _ = receiver.communicate(raw, timeout=120)  # a receiver that stops reading early is fine
        result = json.loads(out)
        grown = result["peak"] - result["before"]
        print(f"{name:50} {result['peak']:6.0f} MB {grown:7.0f} MB  {result['outcome'][:90]}")


if __name__ == "__main__":
    receive() if sys.argv[1:] == ["--receive"] else main()
