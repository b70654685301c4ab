"""The plain-data channel between the trusted grader and the sandbox.

A message is one JSON header followed by zero or more numpy arrays in ``.npy`` format:

    [4-byte big-endian header length][header JSON][8-byte length][npy bytes]...

Values inside the header are tagged so that the receiver rebuilds exactly the same plain types:

    {"t": "none" | "bool" | "int" | "float" | "str", "v": ...}
    {"t": "ndarray", "i": k}            k-th array of the message (np.load, allow_pickle=False)
    {"t": "npscalar", "i": k}           a numpy scalar, sent as a 0-d array
    {"t": "tuple" | "list", "items": [...]}
    {"t": "dict", "items": {"key": ...}}  string keys only
    {"t": "handle", "id": n, "type": "name"}  an object that stays in the sandbox (a cache)

Nothing here unpickles or evaluates what it receives, so a hostile peer can send wrong values but
never code. This module imports only the standard library and numpy: the sandbox imports it too.
"""

from __future__ import annotations

import io
import json
import os
import select
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_ARRAY_BYTES = 256 * 1024 * 1024
MAX_ITEMS = 10_000
MAX_DEPTH = 8
PLAIN_DTYPE_KINDS = "biufc"  # bool, int, unsigned, float, complex: never object or structured


class ChannelError(Exception):
    """The peer closed the channel, sent something malformed, or did not answer in time."""


class ChannelTimeout(ChannelError):
    """No complete message arrived before the deadline."""


@dataclass(frozen=True)
class Handle:
    """An object that lives in the sandbox (for instance a cache); only its id crosses.

    `generation` is the sandbox start it belongs to, so a handle from a sandbox that has since
    been restarted is recognised as stale instead of silently meaning something else.
    """

    id: int
    type_name: str
    generation: int = 0

    def __repr__(self) -> str:
        return f"<{self.type_name} object kept in the sandbox>"


def is_plain_array(value: Any) -> bool:
    """True for an exact np.ndarray with a numeric or bool dtype (not a subclass, not object)."""
    return type(value) is np.ndarray and value.dtype.kind in PLAIN_DTYPE_KINDS and not value.dtype.fields


def encode(value: Any, arrays: list[np.ndarray], to_handle: Callable[[Any], dict] | None, depth: int = 0) -> dict:
    """Tag `value` for the header, appending its arrays to `arrays`.

    Objects that are not plain data become handles through `to_handle` (the sandbox side); the
    grader side passes None, so anything else it tries to send is a programming error.
    """
    if depth > MAX_DEPTH:
        raise ChannelError("value nested too deeply to send")
    kind = type(value)
    if value is None:
        return {"t": "none"}
    if kind in (bool, int, str):
        return {"t": kind.__name__, "v": value}
    if kind is float:
        return {"t": "float", "v": value}
    if is_plain_array(value):
        arrays.append(value)
        return {"t": "ndarray", "i": len(arrays) - 1}
    if isinstance(value, np.generic) and type(value).__module__ == "numpy" and np.dtype(kind).kind in PLAIN_DTYPE_KINDS:
        arrays.append(np.asarray(value))
        return {"t": "npscalar", "i": len(arrays) - 1}
    if kind in (tuple, list) and len(value) <= MAX_ITEMS:
        return {"t": kind.__name__, "items": [encode(v, arrays, to_handle, depth + 1) for v in value]}
    if kind is dict and len(value) <= MAX_ITEMS and all(type(k) is str for k in value):
        return {"t": "dict", "items": {k: encode(v, arrays, to_handle, depth + 1) for k, v in value.items()}}
    if kind is Handle:
        return {"t": "handle", "id": value.id, "type": value.type_name}
    if to_handle is None:
        raise ChannelError(f"cannot send a {kind.__name__} over the plain-data channel")
    return to_handle(value)


def decode(tagged: Any, arrays: list[np.ndarray], generation: int = 0) -> Any:
    """Rebuild a value tagged by `encode`. Unknown tags raise ChannelError."""
    if not isinstance(tagged, dict) or "t" not in tagged:
        raise ChannelError("malformed value in message")
    tag = tagged["t"]
    if tag == "none":
        return None
    if tag in ("bool", "int", "float", "str"):
        value = tagged.get("v")
        expected = {"bool": bool, "int": int, "float": float, "str": str}[tag]
        if type(value) is not expected and not (tag == "float" and type(value) is int):
            raise ChannelError("malformed scalar in message")
        return expected(value)
    if tag == "ndarray":
        return arrays[tagged["i"]]
    if tag == "npscalar":
        return arrays[tagged["i"]][()]
    if tag in ("tuple", "list"):
        items = [decode(v, arrays, generation) for v in tagged["items"]]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict":
        return {str(k): decode(v, arrays, generation) for k, v in tagged["items"].items()}
    if tag == "handle":
        return Handle(int(tagged["id"]), str(tagged["type"]), generation)
    raise ChannelError(f"unknown value tag {tag!r}")


def _array_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def pack(header: dict, arrays: list[np.ndarray]) -> bytes:
    """Serialise one message."""
    head = json.dumps({**header, "arrays": len(arrays)}).encode()
    parts = [struct.pack(">I", len(head)), head]
    for array in arrays:
        data = _array_bytes(array)
        parts += [struct.pack(">Q", len(data)), data]
    return b"".join(parts)


class Endpoint:
    """One side of the channel: a read fd and a write fd, with optional deadlines."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd = read_fd
        self.write_fd = write_fd

    def send(self, header: dict, arrays: list[np.ndarray] = (), timeout: float | None = None) -> None:
        data = memoryview(pack(header, list(arrays)))
        deadline = None if timeout is None else time.monotonic() + timeout
        while data:
            self._wait(self.write_fd, deadline, writable=True)
            try:
                written = os.write(self.write_fd, data[: 1 << 16])
            except BlockingIOError:
                continue
            except OSError as error:
                raise ChannelError(f"the other side closed the channel ({error.strerror})") from None
            data = data[written:]

    def receive(self, timeout: float | None = None) -> tuple[dict, list[np.ndarray]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        (length,) = struct.unpack(">I", self._read_exactly(4, deadline))
        if length > MAX_HEADER_BYTES:
            raise ChannelError("message header too large")
        header = json.loads(self._read_exactly(length, deadline))
        if not isinstance(header, dict):
            raise ChannelError("malformed message header")
        arrays = []
        for _ in range(int(header.get("arrays", 0))):
            (size,) = struct.unpack(">Q", self._read_exactly(8, deadline))
            if size > MAX_ARRAY_BYTES:
                raise ChannelError("array in message too large")
            try:
                arrays.append(np.load(io.BytesIO(self._read_exactly(size, deadline)), allow_pickle=False))
            except ValueError as error:
                raise ChannelError(f"malformed array in message: {error}") from None
        return header, arrays

    def _read_exactly(self, count: int, deadline: float | None) -> bytes:
        chunks, remaining = [], count
        while remaining:
            self._wait(self.read_fd, deadline, writable=False)
            try:
                chunk = os.read(self.read_fd, min(remaining, 1 << 20))
            except BlockingIOError:
                continue
            if not chunk:
                raise ChannelError("the other side closed the channel")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    @staticmethod
    def _wait(fd: int, deadline: float | None, writable: bool) -> None:
        if deadline is None:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChannelTimeout("no answer in time")
        readers, writers = ([], [fd]) if writable else ([fd], [])
        ready = select.select(readers, writers, [], left)
        if not any(ready):
            raise ChannelTimeout("no answer in time")
