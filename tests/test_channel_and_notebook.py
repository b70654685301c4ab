"""The plain-data channel and the lenient notebook reader."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from autograder.notebook import NotGradable, find_notebook, read_cells
from autograder.sandbox.channel import ChannelError, Endpoint, Handle, decode, encode


def roundtrip(value, to_handle=None):
    arrays: list = []
    tagged = encode(value, arrays, to_handle)
    read_fd, write_fd = os.pipe()
    Endpoint(read_fd, write_fd).send({"v": tagged}, arrays)
    header, received = Endpoint(read_fd, write_fd).receive(timeout=5)
    os.close(read_fd)
    os.close(write_fd)
    return decode(header["v"], received)


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
