"""The plain-data channel and the lenient notebook reader."""

from __future__ import annotations

import io
import json
import os
import random
import struct
import threading
import tracemalloc

import numpy as np
import pytest

from autograder.notebook import NotGradable, check_calls, find_notebook, read_cells
from autograder.sandbox import Program, channel
from autograder.sandbox.channel import ChannelError, ChannelTimeout, Endpoint, Handle, decode, encode, pack

MB = 2**20


def roundtrip(value, to_handle=None):
    arrays: list = []
    tagged = encode(value, arrays, to_handle)
    read_fd, write_fd = os.pipe()
    Endpoint(read_fd, write_fd).send({"v": tagged}, arrays)
    header, received = Endpoint(read_fd, write_fd).receive(timeout=5)
    os.close(read_fd)
    os.close(write_fd)
    return decode(header["v"], received)


def receive_bytes(raw: bytes, timeout: float = 10):
    """`raw` written into a real pipe by a thread (so it may exceed the pipe buffer) and received
    with Endpoint.receive on the other end: (the message or the exception raised, and the peak
    bytes allocated while receiving)."""
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        view = memoryview(raw)
        try:
            while view:
                view = view[os.write(write_fd, view[: 1 << 16]) :]
        except OSError:  # the receiver gave up and closed its end
            pass
        finally:
            os.close(write_fd)

    thread = threading.Thread(target=writer)
    tracemalloc.start()
    thread.start()
    try:
        outcome = Endpoint(read_fd, -1).receive(timeout=timeout)
    except Exception as error:  # noqa: BLE001 - the tests look at what was raised
        outcome = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        os.close(read_fd)
        thread.join()
    return outcome, peak


def frame(header: dict | bytes, *payloads: bytes) -> bytes:
    """A message as a sender would write it, header and array payloads given as they are."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack(">I", len(head)) + head + b"".join(struct.pack(">Q", len(p)) + p for p in payloads)


def npy(shape: tuple, descr: object = "<f8", data: bytes = b"", fortran: bool = False, version: int = 1) -> bytes:
    """.npy bytes with whatever header we like, followed by `data`."""
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    write = np.lib.format.write_array_header_1_0 if version == 1 else np.lib.format.write_array_header_2_0
    write(buffer, header)
    return buffer.getvalue() + data


def refused(raw: bytes, peak_below: int = 1 * MB) -> str:
    """Receiving `raw` raises ChannelError, allocating less than `peak_below`; its message."""
    outcome, peak = receive_bytes(raw)
    assert isinstance(outcome, ChannelError), outcome
    assert peak < peak_below, f"{peak / MB:.1f} MB allocated"
    return str(outcome)


def test_plain_values_cross_exactly():
    value = (
        np.arange(6.0).reshape(2, 3),
        {"W": np.ones(2, dtype=np.float32), "n": 3},
        [1.5, None, True, "s"],
        np.float64(2.5),
    )
    back = roundtrip(value)
    assert type(back) is tuple and type(back[0]) is np.ndarray and back[0].shape == (2, 3)
    assert back[1]["W"].dtype == np.float32 and back[1]["n"] == 3
    assert back[2] == [1.5, None, True, "s"]
    assert type(back[3]) is np.float64 and back[3] == 2.5


def test_objects_and_array_subclasses_become_handles():
    class Cache:
        pass

    made = []

    def to_handle(obj):
        made.append(obj)
        return {"t": "handle", "id": len(made), "type": type(obj).__name__}

    back = roundtrip((Cache(), np.ma.masked_array([1.0]), np.array([object()], dtype=object)), to_handle)
    assert [type(h) for h in back] == [Handle, Handle, Handle]
    assert back[0].type_name == "Cache" and back[1].type_name == "MaskedArray"


def test_grader_side_refuses_to_send_objects():
    with pytest.raises(ChannelError):
        encode(object(), [], None)


def test_arrays_keep_dtype_layout_and_are_writable_and_own_their_data():
    values = [
        np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        np.arange(20, dtype=np.int8)[::3],  # not contiguous
        np.arange(6, dtype=">i4").reshape(2, 3),  # big-endian
        np.zeros((0, 3)),
        np.array([True, False]),
        np.array([1 + 2j], dtype=np.complex64),
        np.zeros((1,) * channel.MAX_NDIM, dtype=np.uint16),
    ]
    back = roundtrip(values)
    for sent, got in zip(values, back):
        assert got.dtype == sent.dtype and got.shape == sent.shape and np.array_equal(got, sent)
        assert got.flags.writeable and got.flags.owndata
    assert back[0].flags.f_contiguous
    scalars = (np.float32(1.5), np.int64(-3), np.bool_(True), np.complex128(1j), np.uint8(7))
    assert [(type(v), v) for v in roundtrip(scalars)] == [(type(v), v) for v in scalars]


def test_npy_size_is_what_pack_sends():
    for array in (np.zeros((3, 5)), np.asfortranarray(np.ones((2, 7))), np.arange(9)[::2], np.float64(1.0)):
        array = np.asarray(array)
        assert channel._npy_size(array) == len(channel._array_bytes(array))


def test_the_largest_real_messages_fit():
    """hw2's deepest check sends a Program of 20,000 operations (2.04 MB, the largest message of
    the reference gradings); the deepest value `encode` accepts still fits inside a Program step."""
    program = Program("Value")
    node = leaf = program.call("Value", 0.5)
    for _ in range(10_000):
        node = program.op("add", program.op("mul", node, 1.0001), 0.0)
    program.method(node, "backward")
    program.get(leaf, "grad")
    arrays: list = []
    raw = pack({"op": "program", "steps": program.encoded_steps(arrays), "returns": [0]}, arrays)
    assert 1.5 * MB < len(raw) < channel.MAX_HEADER_BYTES / 1.8

    deepest: list = []
    for _ in range(channel.MAX_VALUE_DEPTH):
        deepest = [deepest, np.zeros(2)]
    program = Program("deep")
    program.call("f", deepest)
    arrays = []
    header, received = receive_bytes(pack({"op": "program", "steps": program.encoded_steps(arrays)}, arrays))[0]
    assert len(received) == channel.MAX_VALUE_DEPTH
    assert decode(header["steps"][0]["args"][0]["value"], received)[1].shape == (2,)

    many = [np.full(3, k) for k in range(channel.MAX_ARRAYS)]
    assert [a[0] for a in receive_bytes(pack({}, many))[0][1]] == list(range(channel.MAX_ARRAYS))


def test_a_full_budget_of_array_bytes_crosses():
    array = np.ones(channel.MAX_MESSAGE_BYTES // 8 - 16)  # with its .npy header: just under the limit
    arrays: list = []
    encode(array, arrays, None)
    (header, received), peak = receive_bytes(pack({}, arrays))
    assert np.array_equal(received[0], array)
    assert peak < 2.2 * channel.MAX_MESSAGE_BYTES  # what was read, and the array made from it


# -- a hostile sender --------------------------------------------------------------------------
def test_a_forged_header_announcing_16_gb_of_arrays_is_refused_before_reading():
    """64 arrays of 250 MB each announced: the first size is over the budget, nothing is read."""
    raw = frame({"arrays": 64}) + struct.pack(">Q", 250_000_000) + b"\0" * MB
    assert "limit" in refused(raw)


def test_arrays_past_the_budget_are_refused_after_reading_at_most_the_budget():
    first = channel._array_bytes(np.zeros(channel.MAX_MESSAGE_BYTES // 8 - 16))
    raw = frame({"arrays": 64}, first) + struct.pack(">Q", 250_000_000) + b"\0" * MB
    assert "limit" in refused(raw, peak_below=2.2 * channel.MAX_MESSAGE_BYTES)


def test_an_npy_header_claiming_ten_billion_elements_allocates_nothing():
    """np.load would allocate the claimed shape (80 GB here) before reading the 80 bytes sent."""
    lying = npy((10**10,), data=bytes(80))
    assert "shape does not match" in refused(frame({"arrays": 1}, lying))
    assert "shape does not match" in refused(frame({"arrays": 1}, npy((2,), data=bytes(80))))  # more data than shape
    assert "shape does not match" in refused(frame({"arrays": 1}, npy((10**10,), data=bytes(80), version=2)))


def test_a_200000_deep_header_is_a_channel_error():
    deep = b"[" * 200_000 + b"]" * 200_000
    assert "malformed message header" in refused(frame(deep))
    nested: dict = {}
    level = nested
    for _ in range(channel.MAX_JSON_DEPTH):
        level["a"] = {}
        level = level["a"]
    assert "malformed message header" in refused(frame(nested))  # one level too deep, no recursion limit hit
    assert receive_bytes(frame(nested["a"]))[0] == (nested["a"], [])  # exactly at the limit


@pytest.mark.parametrize(
    "header",
    [
        b'{"arrays": [1]}',
        b'{"arrays": true}',
        b'{"arrays": -1}',
        b'{"arrays": 65}',
        b'{"arrays": 1.0}',
        b'{"arrays": "2"}',
        b'{"arrays": 1000000000000000000000000000000}',
        b"[1, 2]",
        b'"ready"',
        b"{nope",
        b"",
        b"\xff\xfe\xfa\xfb",
        b'{"v": ' + b"1" * 5000 + b"}",  # longer than Python converts
    ],
)
def test_malformed_headers_are_channel_errors(header):
    refused(frame(header))


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # closed at once
        b"\x00\x00",  # cut inside the length
        struct.pack(">I", 0xFFFFFFFF),  # a 4 GB header announced
        struct.pack(">I", channel.MAX_HEADER_BYTES + 1),
        struct.pack(">I", 100) + b"{}",  # cut inside the header
        frame({"arrays": 1}) + struct.pack(">Q", 2**64 - 1),
        frame({"arrays": 2}, npy((1,), data=bytes(8))),  # the second array never comes
        frame({"arrays": 1}) + struct.pack(">Q", 1000) + b"x",  # cut inside an array
    ],
)
def test_short_or_oversized_messages_are_channel_errors(raw):
    refused(raw)


@pytest.mark.parametrize(
    "payload, words",
    [
        (b"", "malformed array"),
        (b"not an npy file at all", "malformed array"),
        (b"\x93NUMPY\x03\x00" + b"\0" * 20, "malformed array"),  # version 3
        (b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**32 - 1), "malformed array"),  # a 4 GB .npy header
        (npy((2,), descr="|O", data=bytes(16)), "only numeric and bool"),
        (npy((1,), descr=[("a", "<f8")], data=bytes(8)), "only numeric and bool"),
        (npy((1,), descr="<U2", data=bytes(8)), "only numeric and bool"),
        (npy((1,), descr="<M8[s]", data=bytes(8)), "only numeric and bool"),
        (npy((1,), descr="|V8", data=bytes(8)), "only numeric and bool"),
        (npy((1,) * 33, data=bytes(8)), "malformed shape"),
        (npy((-1, -8), data=bytes(64)), "malformed shape"),
        (npy((True,), data=bytes(8)), "malformed shape"),
        (npy((2,), data=bytes(8)), "shape does not match"),
        (npy((1,), descr="<f8", data=b"", fortran=True), "shape does not match"),
        (b"\x93NUMPY\x01\x00" + struct.pack("<H", 20) + b"__import__('os')    ", "malformed array"),
        (b"\x93NUMPY\x01\x00" + struct.pack("<H", 10) + b"[1, 2, 3] ", "malformed array"),
    ],
)
def test_forged_npy_payloads_are_channel_errors(payload, words):
    assert words in refused(frame({"arrays": 1}, payload))


def test_a_silent_sender_times_out():
    read_fd, write_fd = os.pipe()
    try:
        with pytest.raises(ChannelTimeout):
            Endpoint(read_fd, write_fd).receive(timeout=0.05)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_any_corruption_of_a_message_is_only_ever_a_channel_error():
    arrays: list = []
    value = {"x": np.arange(6.0).reshape(2, 3), "s": np.float32(1), "l": [1, "a", None, (2.5, True)]}
    good = pack({"ok": True, "value": encode(value, arrays, None)}, arrays)
    rng = random.Random(0)
    for _ in range(400):
        raw = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        if rng.random() < 0.3:
            raw = raw[: rng.randrange(len(raw))]
        read_fd, write_fd = os.pipe()
        os.write(write_fd, raw)
        os.close(write_fd)
        try:
            header, received = Endpoint(read_fd, -1).receive(timeout=5)
            decode(header.get("value"), received)
        except ChannelError:
            pass
        finally:
            os.close(read_fd)


# -- decode: every malformed value is a ChannelError ---------------------------------------------
@pytest.mark.parametrize(
    "tagged",
    [
        None,
        "none",
        5,
        [],
        {},
        {"t": 5},
        {"t": ["list"]},
        {"t": "nope"},
        {"t": "int", "v": "1"},
        {"t": "int", "v": 1.5},
        {"t": "int", "v": True},
        {"t": "int"},
        {"t": "bool", "v": 1},
        {"t": "float", "v": "x"},
        {"t": "float", "v": None},
        {"t": "float", "v": 10**400},
        {"t": "str", "v": 1},
        {"t": "str", "v": ["a"]},
        {"t": "ndarray"},
        {"t": "ndarray", "i": 1},
        {"t": "ndarray", "i": -1},
        {"t": "ndarray", "i": "0"},
        {"t": "ndarray", "i": 0.0},
        {"t": "ndarray", "i": True},
        {"t": "ndarray", "i": [0]},
        {"t": "npscalar", "i": 0},  # arrays[0] is not 0-d
        {"t": "npscalar", "i": 5},
        {"t": "list"},
        {"t": "list", "items": 3},
        {"t": "list", "items": "abc"},
        {"t": "list", "items": {"a": {"t": "none"}}},
        {"t": "tuple", "items": [{"t": "none"}, "x"]},
        {"t": "tuple", "items": None},
        {"t": "dict", "items": []},
        {"t": "dict", "items": [["k", {"t": "none"}]]},
        {"t": "dict", "items": {"k": 1}},
        {"t": "handle", "id": "1", "type": "X"},
        {"t": "handle", "id": 1.5, "type": "X"},
        {"t": "handle", "id": True, "type": "X"},
        {"t": "handle", "id": 1, "type": 5},
        {"t": "handle", "id": 1},
    ],
)
def test_malformed_tagged_values_are_channel_errors(tagged):
    with pytest.raises(ChannelError):
        decode(tagged, [np.zeros(2)])


def test_decode_bounds_nesting_like_encode():
    def nested(depth: int) -> dict:
        tagged = {"t": "none"}
        for _ in range(depth):
            tagged = {"t": "list", "items": [tagged]}
        return tagged

    assert decode(nested(channel.MAX_VALUE_DEPTH), []) is not None
    for depth in (channel.MAX_VALUE_DEPTH + 1, 100_000):  # no RecursionError either
        with pytest.raises(ChannelError, match="too deeply"):
            decode(nested(depth), [])


def test_decode_of_random_structures_is_a_value_or_a_channel_error():
    rng = random.Random(1)
    atoms = [None, True, 0, -1, 7, 1.5, "x", "none", "int", "list", "dict", "handle", "ndarray", "npscalar", 10**30]
    tags = ["none", "bool", "int", "float", "str", "ndarray", "npscalar", "tuple", "list", "dict", "handle", "?"]

    def anything(depth: int):
        roll = rng.random()
        if depth > 4 or roll < 0.3:
            return rng.choice(atoms)
        if roll < 0.45:
            return [anything(depth + 1) for _ in range(rng.randint(0, 3))]
        tagged = {"t": rng.choice(tags)}
        for key in rng.sample(["v", "i", "items", "id", "type"], rng.randint(0, 3)):
            tagged[key] = anything(depth + 1) if rng.random() < 0.5 else rng.choice(atoms)
        if rng.random() < 0.3:
            tagged["items"] = {"k": anything(depth + 1)} if rng.random() < 0.5 else [anything(depth + 1)]
        return tagged

    for _ in range(3000):
        try:
            decode(anything(0), [np.zeros(()), np.zeros(3)])
        except ChannelError:
            pass


# -- the sender refuses what the receiver would refuse -------------------------------------------
def test_encode_refuses_values_over_the_limits():
    with pytest.raises(ChannelError, match="100.0 MiB of arrays"):
        encode(np.zeros(100 * MB // 8 - 16), [], None)  # a student function returning 100 MB
    with pytest.raises(ChannelError, match="of arrays in one message"):
        encode([np.zeros(5 * MB), np.zeros(5 * MB)], [], None)  # 40 MB each, 80 MB together
    arrays: list = []
    encode(np.zeros(5 * MB), arrays, None)  # "value" fits; "args_after" must fit with it
    with pytest.raises(ChannelError, match="of arrays in one message"):
        encode([np.zeros(5 * MB)], arrays, None)
    with pytest.raises(ChannelError, match=f"more than {channel.MAX_ARRAYS} arrays"):
        encode([[np.float64(k) for k in range(5000)], [np.float64(k) for k in range(5001)]], [], None)
    with pytest.raises(ChannelError, match="over the 4.0 MiB limit"):
        encode(["x" * MB] * 5, [], None)
    with pytest.raises(ChannelError, match="cannot send"):
        encode(10**5000, [], None)
    with pytest.raises(ChannelError, match="nested too deeply"):
        encode([[[[[[[[[[1]]]]]]]]]], [], None)


def test_encode_and_pack_agree_on_the_array_budget(monkeypatch):
    array = np.zeros((10, 10))
    monkeypatch.setattr(channel, "MAX_MESSAGE_BYTES", 2 * channel._npy_size(array))
    arrays: list = []
    encode([array, array], arrays, None)
    pack({}, arrays)
    with pytest.raises(ChannelError):
        encode([array, array, np.zeros(())], [], None)
    with pytest.raises(ChannelError):
        pack({}, [array, array, np.zeros(())])


def test_pack_refuses_messages_over_the_limits():
    with pytest.raises(ChannelError, match="header of 4.0 MiB"):
        pack({"source": "x" * channel.MAX_HEADER_BYTES}, [])
    with pytest.raises(ChannelError, match=f"more than {channel.MAX_ARRAYS} arrays"):
        pack({}, [np.zeros(1)] * (channel.MAX_ARRAYS + 1))
    with pytest.raises(ChannelError, match="over 64.0 MiB of arrays"):
        pack({}, [np.zeros(channel.MAX_MESSAGE_BYTES // 8)])
    with pytest.raises(ChannelError, match="cannot send a ndarray"):
        pack({}, [np.array([None])])
    deep: list = []
    for _ in range(channel.MAX_JSON_DEPTH):
        deep = [deep]
    with pytest.raises(ChannelError, match="nested more than"):
        pack({"v": deep}, [])
    with pytest.raises(ChannelError, match="cannot send"):
        pack({"v": 10**5000}, [])
    read_fd, write_fd = os.pipe()
    try:
        with pytest.raises(ChannelError):
            Endpoint(read_fd, write_fd).send({"v": deep})
        os.close(write_fd)
        with pytest.raises(ChannelError, match="closed"):  # nothing at all was sent
            Endpoint(read_fd, -1).receive(timeout=1)
    finally:
        os.close(read_fd)


def write(path, content):
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    "content, words",
    [
        ("{not json", "not a valid notebook"),
        ("", "not a valid notebook"),
        ([1, 2], "not a notebook"),
        ({"cells": [{"cell_type": "markdown", "source": "hi"}]}, "no code"),
        ({"metadata": {}}, "no cells"),
    ],
)
def test_bad_notebooks_get_one_clear_sentence(tmp_path, content, words):
    with pytest.raises(NotGradable, match=words):
        read_cells(write(tmp_path / "hw.ipynb", content))


def test_nbformat3_and_checkpoints(tmp_path):
    old = {
        "nbformat": 3,
        "worksheets": [{"cells": [{"cell_type": "code", "input": ["x = 1\n", 'grader.check("relu")']}]}],
    }
    cells = read_cells(write(tmp_path / "hw.ipynb", old))
    assert cells[0].source.startswith("x = 1") and cells[0].checkpoints == ["relu"]


def test_find_notebook_prefers_the_expected_name_then_the_newest(tmp_path):
    with pytest.raises(NotGradable, match="No notebook"):
        find_notebook(tmp_path, "hw1_layers.ipynb")
    older = write(tmp_path / "copy.ipynb", {})
    newer = write(tmp_path / "mine.ipynb", {})
    os.utime(older, (1, 1))
    assert find_notebook(tmp_path, "hw1_layers.ipynb") == newer
    exact = write(tmp_path / "hw1_layers.ipynb", {})
    os.utime(exact, (0, 0))
    assert find_notebook(tmp_path, "hw1_layers.ipynb") == exact


@pytest.mark.parametrize(
    "source, questions",
    [
        ('grader.check("relu")', ["relu"]),
        ("W = 1.0  # a later cell, after grader.check('bumps')", []),  # a comment moved the checkpoint
        ("print(\"run grader.check('xor') again\")", []),
        ('%matplotlib inline\ngrader.check("q1")', ["q1"]),
        ('grader.check("a"); grader.check("b")', ["a", "b"]),
        ('def broken(:\n    grader.check("q")', ["q"]),  # not Python: the text decides
    ],
)
def test_only_real_check_calls_are_checkpoints(source, questions):
    assert check_calls(source) == questions
