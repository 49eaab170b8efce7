"""IR files: exact round trip, atomic writes, and clear errors for bad files."""
from __future__ import annotations

import dataclasses
import subprocess

import h5py
import numpy as np
import pytest

from neuroemu.compiler import compile_network
from neuroemu.errors import FileFormatError
from neuroemu.hdf5 import SCHEMAS
from neuroemu.ir import load_ir, save_ir
from neuroemu.network import load_network

from conftest import EXAMPLES, feedforward


def assert_same(a, b, path="ir"):
    """Deep equality of dataclasses, arrays (dtype and bits) and containers."""
    assert type(a) is type(b), f"{path}: {type(a)} != {type(b)}"
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), path
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k}]")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("example, hw", [("yinyang", "bss2"), ("ffn_256_246_10", "bss2"), ("yinyang", "ideal")])
def test_roundtrip_exact(tmp_path, example, hw):
    ir = compile_network(load_network(EXAMPLES / f"{example}.yaml"), hw)
    save_ir(ir, tmp_path / "net.h5")
    back = load_ir(tmp_path / "net.h5")
    assert_same(ir, back)
    assert back.hardware().content_hash == ir.provenance.hardware_hash


def test_h5dump_readable(tmp_path):
    save_ir(compile_network(feedforward(), "small"), tmp_path / "n.h5")
    try:
        out = subprocess.run(["h5dump", "-H", str(tmp_path / "n.h5")], capture_output=True, text=True)
    except FileNotFoundError:
        with h5py.File(tmp_path / "n.h5") as f:  # no h5dump on this machine: walk it with h5py
            names = []
            f.visit(names.append)
        assert "ir/placement/syn_row" in names and "ir/weights/code" in names
        return
    assert out.returncode == 0 and "syn_row" in out.stdout


def test_bad_files(tmp_path):
    with pytest.raises(FileFormatError, match="file not found"):
        load_ir(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(FileFormatError, match="not a readable HDF5 file"):
        load_ir(tmp_path / "text.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = [1, 2]
    with pytest.raises(FileFormatError, match="not a neuroemu file"):
        load_ir(tmp_path / "foreign.h5")
    ir = compile_network(feedforward(), "small")
    save_ir(ir, tmp_path / "ok.h5")
    # truncated file
    data = (tmp_path / "ok.h5").read_bytes()
    (tmp_path / "trunc.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="(not a readable HDF5 file|corrupt or incomplete)"):
        load_ir(tmp_path / "trunc.h5")
    # newer schema
    newer = tmp_path / "newer.h5"
    newer.write_bytes(data)
    with h5py.File(newer, "a") as f:
        f.attrs["neuroemu_schema"] = SCHEMAS["ir"] + 1
    with pytest.raises(FileFormatError,
                       match=f"schema version {SCHEMAS['ir'] + 1} .* is newer than this neuroemu .* upgrade"):
        load_ir(newer)
    # missing member
    broken = tmp_path / "broken.h5"
    broken.write_bytes(data)
    with h5py.File(broken, "a") as f:
        del f["ir/placement/syn_row"]
    with pytest.raises(FileFormatError, match="corrupt or incomplete 'ir' file.*syn_row"):
        load_ir(broken)
    # wrong kind
    from neuroemu.backends import save_spikes
    from neuroemu.spikes import SpikeTrains

    save_spikes({"input": SpikeTrains.from_lists([[1.0]])}, tmp_path / "spikes.h5")
    with pytest.raises(FileFormatError, match="is a neuroemu 'spikes' file, expected 'ir'"):
        load_ir(tmp_path / "spikes.h5")


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    ir = compile_network(feedforward(), "small")
    path = tmp_path / "net.h5"
    save_ir(ir, path)
    before = path.read_bytes()
    from neuroemu.hdf5 import serialize

    def boom(group, obj):
        group.create_dataset("partial", data=[1])
        raise RuntimeError("disk full")

    monkeypatch.setattr(serialize, "write", boom)
    with pytest.raises(RuntimeError):
        save_ir(ir, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.h5"]  # no temp file left


def test_ir_of_schema_1_reads_without_bias_current(tmp_path):
    """IR files written before i_offset existed (schema 1) read with a zero bias current."""
    net = feedforward()
    net.populations[1].params["i_offset"] = 0.25
    ir = compile_network(net, "small")
    save_ir(ir, tmp_path / "new.h5")
    back = load_ir(tmp_path / "new.h5")
    np.testing.assert_array_equal(back.network.params.i_offset, ir.network.params.i_offset)
    assert back.network.params.i_offset.max() == 0.25
    with h5py.File(tmp_path / "new.h5", "a") as f:
        del f["ir/network/params/i_offset"]
        f.attrs["neuroemu_schema"] = 1
    old = load_ir(tmp_path / "new.h5")
    np.testing.assert_array_equal(old.network.params.i_offset, np.zeros(old.network.n_lif))
