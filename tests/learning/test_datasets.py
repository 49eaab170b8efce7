"""Yin-Yang as published, scikit-learn digits, MNIST IDX files, spike-time encoding."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from neuroemu.errors import NeuroemuError
from neuroemu.learning.datasets import (
    encode_times,
    load_digits,
    load_mnist,
    load_mnist_splits,
    load_yin_yang,
    read_idx,
    yin_yang,
)
from neuroemu.learning.model import load_dataset


def test_yin_yang_published_class_counts():
    s = load_yin_yang()
    assert (len(s.train), len(s.validation), len(s.test)) == (5000, 1000, 1000)
    assert s.test.class_counts.tolist() == [350, 316, 334]  # seed 40
    assert s.validation.class_counts.tolist() == [316, 336, 348]  # seed 41
    assert s.train.class_counts.tolist() == [1681, 1702, 1617]  # seed 42
    x = s.train.x
    np.testing.assert_allclose(x[:, 2], 1 - x[:, 0])
    np.testing.assert_allclose(x[:, 3], 1 - x[:, 1])
    assert x.min() >= 0 and x.max() <= 1
    # every point lies in the big circle and its label follows the yin-yang geometry
    r = np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5)
    assert r.max() <= 0.5
    dots = s.train.y == 2
    d_right = np.hypot(x[:, 0] - 0.75, x[:, 1] - 0.5)
    d_left = np.hypot(x[:, 0] - 0.25, x[:, 1] - 0.5)
    assert np.all(np.minimum(d_left, d_right)[dots] < 0.1)
    assert np.all(np.minimum(d_left, d_right)[~dots] >= 0.1)
    # seeded: same seed same data, another seed other data
    np.testing.assert_array_equal(yin_yang(50, 7).x, yin_yang(50, 7).x)
    assert not np.array_equal(yin_yang(50, 7).x, yin_yang(50, 8).x)


def test_encoding():
    t = encode_times(np.array([[0.0, 1.0, 0.5, 2.0]]))
    np.testing.assert_allclose(t, [[1.5, 20.0, 10.75, 20.0]])  # clipped to [0, 1]
    np.testing.assert_allclose(encode_times(np.array([[0.0]]), invert=True), [[20.0]])
    np.testing.assert_allclose(encode_times(np.array([[0.0]]), bias_times=[9.0]), [[1.5, 9.0]])
    with pytest.raises(ValueError, match="t_late"):
        encode_times(np.zeros((1, 1)), t_early=5.0, t_late=2.0)


def test_digits_loader():
    s = load_digits()
    n = len(s.train) + len(s.validation) + len(s.test)
    assert n == 1797 and s.n_features == 64 and s.n_classes == 10
    assert 0.19 < len(s.test) / n < 0.21
    for d in (s.train, s.validation, s.test):  # stratified: every class in every split
        assert np.all(d.class_counts > 0)
        assert d.x.min() >= 0 and d.x.max() <= 1
    np.testing.assert_array_equal(load_digits(seed=0).test.y, s.test.y)
    assert not np.array_equal(load_digits(seed=1).test.x, s.test.x)
    enc = load_dataset("digits")
    assert enc.train.time_coded and enc.train.x.min() >= 1.5 and enc.train.x.max() <= 20.0


def _write_idx(path, array: np.ndarray, code: int = 0x08, compress: bool = False) -> None:
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def _mnist_dir(tmp_path, n_train=60, n_test=20):
    rng = np.random.default_rng(0)
    files = {}
    for name, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for k, lab in enumerate(labels):  # a bright block whose position encodes the label
            r, c = 2 + 2 * (lab // 5) * 5, 4 + 4 * (lab % 5)
            images[k, r:r + 6, c:c + 3] = 200 + rng.integers(0, 55)
        _write_idx(tmp_path / f"{name}-images-idx3-ubyte", images)
        _write_idx(tmp_path / f"{name}-labels-idx1-ubyte.gz", labels, compress=True)
        files[name] = (images, labels)
    return files


def test_idx_reader_and_mnist_loader(tmp_path):
    files = _mnist_dir(tmp_path)
    images, labels = files["train"]
    np.testing.assert_array_equal(read_idx(tmp_path / "train-images-idx3-ubyte"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "train-labels-idx1-ubyte.gz"), labels)
    f32 = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    _write_idx(tmp_path / "f.idx", f32, code=0x0D)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), f32)

    d = load_mnist(tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte.gz")
    assert d.x.shape == (60, 784) and d.x.max() <= 1.0
    np.testing.assert_allclose(d.x.reshape(60, 28, 28), images / 255.0)
    small = load_mnist(tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte.gz", downscale=16)
    assert small.x.shape == (60, 256)
    # area averaging preserves the mean brightness of the central 24x24 crop
    np.testing.assert_allclose(small.x.mean(axis=1), (images[:, 2:26, 2:26] / 255.0).mean(axis=(1, 2)), rtol=1e-12)

    s = load_mnist_splits(tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte.gz",
                          tmp_path / "t10k-images-idx3-ubyte", tmp_path / "t10k-labels-idx1-ubyte.gz", n_validation=10)
    assert (len(s.train), len(s.validation), len(s.test)) == (50, 10, 20)
    enc = load_dataset(f"mnist-idx:{tmp_path}")
    assert enc.n_features == 256 and enc.train.time_coded
    assert enc.train.x.min() == pytest.approx(1.5, abs=0.2)  # inverted: bright pixels spike early


def test_idx_errors(tmp_path):
    _mnist_dir(tmp_path)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "trunc").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "trunc")
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(NeuroemuError, match="t10k-images-idx3-ubyte"):
        load_dataset(f"mnist-idx:{tmp_path}")
    with pytest.raises(NeuroemuError, match="unknown data set"):
        load_dataset("cifar")
