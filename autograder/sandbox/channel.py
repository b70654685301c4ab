"""The plain-data channel between the trusted grader and the sandbox.

A message is one JSON header followed by zero or more numpy arrays in ``.npy`` format:

    [4-byte big-endian header length][header JSON][8-byte length][npy bytes]...

Values inside the header are tagged so that the receiver rebuilds exactly the same plain types:

    {"t": "none" | "bool" | "int" | "float" | "str", "v": ...}
    {"t": "ndarray", "i": k}            k-th array of the message
    {"t": "npscalar", "i": k}           a numpy scalar, sent as a 0-d array
    {"t": "tuple" | "list", "items": [...]}
    {"t": "dict", "items": {"key": ...}}  string keys only
    {"t": "handle", "id": n, "type": "name"}  an object that stays in the sandbox (a cache)

Nothing here unpickles or evaluates what it receives, so a hostile peer can send wrong values but
never code. Every message is bounded (the limits below, the same in both directions): `encode` and
`pack` refuse to build a message over them, and `Endpoint.receive` checks each announced size
before reading or allocating anything, so whatever bytes arrive, the receiver raises ChannelError
and never more. This module imports only the standard library and numpy: the sandbox imports it too.
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# The limits of one message, the same in both directions, sized from the largest messages seen
# while grading the hw1 and hw2 reference solutions (752 requests, 754 replies), with headroom.
# Header: 2.04 MB at most, a grader request (hw2's Program of a 20,000-operation chain); replies
# 12 KB at most. At worst json.loads turns 4 MiB into ~125 MB of Python objects.
MAX_HEADER_BYTES = 4 * 1024 * 1024
# Nesting of the header: 8 at most; the deepest value `encode` accepts nests 23 deep in a Program.
MAX_JSON_DEPTH = 32
# Arrays in one message: 11 at most in the hidden suites, but a correct student function may return
# a list of numpy scalars (a loss history of np.float64, one array each): as many as a list's items.
MAX_ARRAYS = 10_000
# The .npy bytes of all the arrays of one message (so also of one array): 2.4 MB at most (three
# arrays of 0.8 MB).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_NDIM = 32  # dimensions of one array (what numpy 1.x supports)
MAX_VALUE_DEPTH = 8  # nesting of tagged values (encode and decode)
MAX_ITEMS = 10_000  # items of one list, tuple or dict that encode sends (longer: a handle, or refused)
PLAIN_DTYPE_KINDS = "biufc"  # bool, int, unsigned, float, complex: never object or structured
NPY_PREAMBLE_BYTES = 16 * 1024  # magic, version and header of a .npy (numpy refuses headers > 10,000)


class ChannelError(Exception):
    """The peer closed the channel, sent something malformed, or did not answer in time; or a
    message to send is over the limits."""


class ChannelTimeout(ChannelError):
    """No complete message arrived before the deadline."""


class CannotSend(ChannelError):
    """A message to send is over the limits or not plain data; nothing was sent."""


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
    return (
        type(value) is np.ndarray
        and value.dtype.kind in PLAIN_DTYPE_KINDS
        and not value.dtype.fields
        and value.ndim <= MAX_NDIM
    )


def _megabytes(count: int) -> str:
    return f"{count / 2**20:.1f} MiB"


def _npy_size(array: np.ndarray) -> int:
    """The bytes `array` takes in .npy format, as `pack` sends it, without serialising it."""
    preamble = io.BytesIO()
    np.lib.format.write_array_header_1_0(preamble, np.lib.format.header_data_from_array_1_0(array))
    return preamble.tell() + array.nbytes


def _add_array(array: np.ndarray, arrays: list[np.ndarray]) -> int:
    """Append `array` to the message's arrays if they stay within the limits; its index."""
    if len(arrays) >= MAX_ARRAYS:
        raise ChannelError(f"more than {MAX_ARRAYS} arrays in one message")
    _check_array_bytes(_npy_size(array))  # one array alone over the budget: refused before the rest
    arrays.append(array)
    return len(arrays) - 1


def _check_array_bytes(total: int) -> None:
    if total > MAX_MESSAGE_BYTES:
        raise ChannelError(
            f"{_megabytes(total)} of arrays in one message, over the {_megabytes(MAX_MESSAGE_BYTES)} limit"
        )


def encode(value: Any, arrays: list[np.ndarray], to_handle: Callable[[Any], dict] | None, depth: int = 0) -> dict:
    """Tag `value` for the header, appending its arrays to `arrays`.

    Objects that are not plain data become handles through `to_handle` (the sandbox side); the
    grader side passes None, so anything else it tries to send is a programming error. Raises
    ChannelError for a value over the limits: nested too deeply, too many or too large arrays
    (counted with those already in `arrays`), or a tagged value larger than a whole header.
    """
    tagged = _encode(value, arrays, to_handle, depth)
    if depth == 0:  # the message's arrays together, counted once (not on every append)
        _check_array_bytes(sum(_npy_size(a) for a in arrays))
    if depth == 0 and type(value) in (int, str, tuple, list, dict):  # the others are a few bytes
        try:
            size = len(json.dumps(tagged))
        except ValueError as error:  # an int of more than 4300 digits
            raise ChannelError(f"cannot send this value ({error})") from None
        if size > MAX_HEADER_BYTES:
            raise ChannelError(f"{_megabytes(size)} of values to send, over the {_megabytes(MAX_HEADER_BYTES)} limit")
    return tagged


def _encode(value: Any, arrays: list[np.ndarray], to_handle: Callable[[Any], dict] | None, depth: int) -> dict:
    if depth > MAX_VALUE_DEPTH:
        raise ChannelError("value nested too deeply to send")
    kind = type(value)
    if value is None:
        return {"t": "none"}
    if kind in (bool, int, str):
        return {"t": kind.__name__, "v": value}
    if kind is float:
        return {"t": "float", "v": value}
    if is_plain_array(value):
        return {"t": "ndarray", "i": _add_array(value, arrays)}
    if isinstance(value, np.generic) and type(value).__module__ == "numpy" and np.dtype(kind).kind in PLAIN_DTYPE_KINDS:
        return {"t": "npscalar", "i": _add_array(np.asarray(value), arrays)}
    if kind in (tuple, list) and len(value) <= MAX_ITEMS:
        return {"t": kind.__name__, "items": [_encode(v, arrays, to_handle, depth + 1) for v in value]}
    if kind is dict and len(value) <= MAX_ITEMS and all(type(k) is str for k in value):
        return {"t": "dict", "items": {k: _encode(v, arrays, to_handle, depth + 1) for k, v in value.items()}}
    if kind is Handle:
        return {"t": "handle", "id": value.id, "type": value.type_name}
    if to_handle is None:
        raise ChannelError(f"cannot send a {kind.__name__} over the plain-data channel")
    return to_handle(value)


def decode(tagged: Any, arrays: list[np.ndarray], generation: int = 0) -> Any:
    """Rebuild a value tagged by `encode`. Anything malformed (unknown tag, wrong types, an array
    index out of range, nesting deeper than `encode` allows) raises ChannelError, nothing else."""
    return _decode(tagged, arrays, generation, 0)


SCALAR_TYPES = {"bool": bool, "int": int, "float": float, "str": str}


def _decode(tagged: Any, arrays: list[np.ndarray], generation: int, depth: int) -> Any:
    if depth > MAX_VALUE_DEPTH:
        raise ChannelError("value in message nested too deeply")
    if type(tagged) is not dict or type(tagged.get("t")) is not str:
        raise ChannelError("malformed value in message")
    tag = tagged["t"]
    if tag == "none":
        return None
    if tag in SCALAR_TYPES:
        value = tagged.get("v")
        if type(value) is SCALAR_TYPES[tag]:
            return value
        if tag == "float" and type(value) is int:  # json.dumps writes 1.0 as 1.0, but be lenient
            try:
                return float(value)
            except OverflowError:
                pass
        raise ChannelError(f"malformed {tag} in message")
    if tag in ("ndarray", "npscalar"):
        index = tagged.get("i")
        if type(index) is not int or not 0 <= index < len(arrays):
            raise ChannelError("malformed array reference in message")
        if tag == "ndarray":
            return arrays[index]
        if arrays[index].ndim != 0:
            raise ChannelError("malformed numpy scalar in message")
        return arrays[index][()]
    if tag in ("tuple", "list"):
        items = tagged.get("items")
        if type(items) is not list:
            raise ChannelError(f"malformed {tag} in message")
        values = [_decode(v, arrays, generation, depth + 1) for v in items]
        return tuple(values) if tag == "tuple" else values
    if tag == "dict":
        items = tagged.get("items")
        if type(items) is not dict:
            raise ChannelError("malformed dict in message")
        return {k: _decode(v, arrays, generation, depth + 1) for k, v in items.items()}
    if tag == "handle":
        handle_id, type_name = tagged.get("id"), tagged.get("type")
        if type(handle_id) is not int or type(type_name) is not str:
            raise ChannelError("malformed handle in message")
        return Handle(handle_id, type_name, generation)
    raise ChannelError(f"unknown value tag {tag[:40]!r}")


CONTAINERS = (dict, list, tuple)


def _too_deep(value: Any, limit: int) -> bool:
    """True if `value` (JSON data) nests lists and dicts more than `limit` deep; no recursion."""
    level, depth = [value], 1
    while level:
        if depth > limit:
            return True
        inner = []
        for node in level:
            inner += [
                child for child in (node.values() if isinstance(node, dict) else node) if isinstance(child, CONTAINERS)
            ]
        level, depth = inner, depth + 1
    return False


def _array_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def pack(header: dict, arrays: list[np.ndarray]) -> bytes:
    """Serialise one message. Raises ChannelError, before anything is sent, for a message that
    the receiver would refuse: over a limit, or with an array that is not plain."""
    if len(arrays) > MAX_ARRAYS:
        raise CannotSend(f"more than {MAX_ARRAYS} arrays in one message")
    try:
        head = json.dumps({**header, "arrays": len(arrays)}).encode()
    except (ValueError, RecursionError) as error:
        raise CannotSend(f"cannot send this message ({error})") from None
    if len(head) > MAX_HEADER_BYTES:
        raise CannotSend(f"a message header of {_megabytes(len(head))}, over the {_megabytes(MAX_HEADER_BYTES)} limit")
    if _too_deep(header, MAX_JSON_DEPTH):
        raise CannotSend(f"a message header nested more than {MAX_JSON_DEPTH} deep")
    parts, total = [struct.pack(">I", len(head)), head], 0
    for array in arrays:
        if not is_plain_array(array):
            raise CannotSend(f"cannot send a {type(array).__name__} as an array")
        data = _array_bytes(array)
        total += len(data)
        if total > MAX_MESSAGE_BYTES:
            raise CannotSend(f"over {_megabytes(MAX_MESSAGE_BYTES)} of arrays in one message")
        parts += [struct.pack(">Q", len(data)), data]
    return b"".join(parts)


def _parse_npy(payload: bytearray) -> np.ndarray:
    """The array in .npy bytes, checked before anything is allocated: a version 1 or 2 header, a
    numeric or bool dtype, at most MAX_NDIM dimensions, and a shape that accounts for exactly the
    data bytes there are. (np.load would allocate whatever shape the header claims.)"""
    preamble = io.BytesIO(payload[:NPY_PREAMBLE_BYTES])
    try:
        version = np.lib.format.read_magic(preamble)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(preamble)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(preamble)
        else:
            raise ValueError(f".npy version {version}")
    except Exception as error:  # whatever numpy's header parsing raises for garbage
        raise ChannelError(f"malformed array in message ({str(error)[:200]})") from None
    if dtype.kind not in PLAIN_DTYPE_KINDS or dtype.fields is not None:
        raise ChannelError(f"an array of dtype {str(dtype)[:100]} in message: only numeric and bool arrays can cross")
    if len(shape) > MAX_NDIM or any(type(n) is not int or n < 0 for n in shape):
        raise ChannelError("an array with a malformed shape in message")
    count, offset = math.prod(shape), preamble.tell()
    if count * dtype.itemsize != len(payload) - offset:
        raise ChannelError("an array in message whose shape does not match its data")
    flat = np.frombuffer(payload, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F" if fortran_order else "C").copy(order="K")


class Endpoint:
    """One side of the channel: a read fd and a write fd, with optional deadlines."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd = read_fd
        self.write_fd = write_fd

    def send(self, header: dict, arrays: list[np.ndarray] = (), timeout: float | None = None) -> None:
        """Send one message. ChannelError if it is over the limits (nothing is sent then), if the
        other side closed the channel, or (ChannelTimeout) if it could not be written in time."""
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
        """The next message: (header, arrays). Whatever arrives, the only exception is
        ChannelError (ChannelTimeout past the deadline), and no more than the limits allow is read
        or allocated: each announced size is checked before it is read."""
        deadline = None if timeout is None else time.monotonic() + timeout
        (length,) = struct.unpack(">I", self._read_exactly(4, deadline))
        if length > MAX_HEADER_BYTES:
            raise ChannelError(
                f"a message header of {_megabytes(length)}, over the {_megabytes(MAX_HEADER_BYTES)} limit"
            )
        try:
            header = json.loads(self._read_exactly(length, deadline))
        except (ValueError, RecursionError) as error:  # ValueError: not JSON, not UTF-8, a huge int
            raise ChannelError(f"malformed message header ({type(error).__name__})") from None
        if not isinstance(header, dict) or _too_deep(header, MAX_JSON_DEPTH):
            raise ChannelError("malformed message header")
        count = header.get("arrays", 0)
        if type(count) is not int or not 0 <= count <= MAX_ARRAYS:
            raise ChannelError("malformed array count in message header")
        arrays, left = [], MAX_MESSAGE_BYTES
        for _ in range(count):
            (size,) = struct.unpack(">Q", self._read_exactly(8, deadline))
            if size > left:
                raise ChannelError(f"arrays over the {_megabytes(MAX_MESSAGE_BYTES)} limit in one message")
            left -= size
            arrays.append(_parse_npy(self._read_exactly(size, deadline)))
        return header, arrays

    def _read_exactly(self, count: int, deadline: float | None) -> bytearray:
        buffer = bytearray(count)
        view, done = memoryview(buffer), 0
        while done < count:
            self._wait(self.read_fd, deadline, writable=False)
            try:
                got = os.readv(self.read_fd, [view[done:]])
            except BlockingIOError:
                continue
            except OSError as error:
                raise ChannelError(f"cannot read from the channel ({error.strerror})") from None
            if not got:
                raise ChannelError("the other side closed the channel")
            done += got
        return buffer

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
