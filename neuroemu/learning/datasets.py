"""Data sets for TTFS learning and their spike-time encoding.

* Yin-Yang (Kriener et al. 2021, github.com/lkriener/yin_yang_data_set, ``dataset.py``):
  reproduced draw for draw from the published ``np.random`` stream, so the samples (and the
  class counts train 1681/1702/1617, validation 316/336/348, test 350/316/334) are the published
  ones.
* scikit-learn's bundled 8x8 digits (no download), stratified seeded split.
* MNIST from IDX files the user already has (no download), optionally cropped to 24x24 and
  downscaled to 16x16 as in Göltz et al. 2021 (fastAndDeep ``datasets.HicannMnist``).

Data are carried as :class:`LabeledData` (features in [0, 1] or spike times in ms) grouped in
:class:`DatasetSplits`. :func:`encode_times` / :func:`encode_splits` turn features into input
spike times (fastAndDeep: ``t = t_early + v (t_late - t_early)`` with t_early = 0.15 tau_syn,
t_late = 2 tau_syn, i.e. 1.5 ms and 20 ms for tau_syn = 10 ms).

All randomness uses explicit seeds through ``numpy.random.Generator`` except the Yin-Yang
generator, which must replay the published ``RandomState`` stream.
"""
from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = [
    "LabeledData",
    "DatasetSplits",
    "yin_yang",
    "load_yin_yang",
    "load_digits",
    "read_idx",
    "load_mnist",
    "load_mnist_splits",
    "downscale_mnist",
    "encode_times",
    "encode_splits",
    "T_EARLY",
    "T_LATE",
]

T_EARLY = 1.5  # ms; fastAndDeep early = 0.15 tau_syn with tau_syn = 10 ms
T_LATE = 20.0  # ms; fastAndDeep late = 2 tau_syn


@dataclass(frozen=True)
class LabeledData:
    """Samples and integer labels.

    Attributes:
        x: (n, n_features) float array: features in [0, 1], or spike times in ms if
            ``time_coded``.
        y: (n,) int64 class indices.
        class_names: names of the classes, index = label.
        time_coded: True when ``x`` holds spike times (ms) ready for a TTFS network.
    """

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    time_coded: bool = False

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.y.ndim != 1 or len(self.x) != len(self.y):
            raise ValueError(f"LabeledData needs x (n, features) and y (n,), got {self.x.shape} and {self.y.shape}")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def class_counts(self) -> np.ndarray:
        return np.bincount(self.y, minlength=len(self.class_names))


@dataclass(frozen=True)
class DatasetSplits:
    """Train / validation / test splits of one data set."""

    name: str
    train: LabeledData
    validation: LabeledData | None
    test: LabeledData

    @property
    def n_features(self) -> int:
        return self.train.x.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.train.class_names)


# --------------------------------------------------------------------------- Yin-Yang

YIN_YANG_CLASSES = ("yin", "yang", "dot")


def _yy_which_class(x, y, r_small: float, r_big: float) -> int:
    # same expressions (numpy float64 scalars) as the original which_class
    d_right = np.sqrt((x - 1.5 * r_big) ** 2 + (y - r_big) ** 2)
    d_left = np.sqrt((x - 0.5 * r_big) ** 2 + (y - r_big) ** 2)
    criterion1 = d_right <= r_small
    criterion2 = d_left > r_small and d_left <= 0.5 * r_big
    criterion3 = y > r_big and d_right > 0.5 * r_big
    is_yin = criterion1 or criterion2 or criterion3
    is_circles = d_right < r_small or d_left < r_small
    if is_circles:
        return 2
    return int(is_yin)


@lru_cache(maxsize=16)
def _yin_yang_arrays(size: int, seed: int, r_small: float, r_big: float) -> tuple[np.ndarray, np.ndarray]:
    rs = np.random.RandomState(seed)  # same stream as the original np.random.seed(seed)
    vals = np.empty((size, 4))
    labels = np.empty(size, dtype=np.int64)
    for n in range(size):
        goal = rs.randint(3)  # class first, then rejection-sample a point of that class
        while True:
            x, y = rs.rand(2) * 2.0 * r_big
            if np.sqrt((x - r_big) ** 2 + (y - r_big) ** 2) > r_big:
                continue
            c = _yy_which_class(x, y, r_small, r_big)
            if c == goal:
                break
        vals[n] = (x, y, 1.0 - x, 1.0 - y)
        labels[n] = c
    vals.setflags(write=False)
    labels.setflags(write=False)
    return vals, labels


def yin_yang(size: int = 1000, seed: int = 42, r_small: float = 0.1, r_big: float = 0.5) -> LabeledData:
    """One Yin-Yang set exactly as ``YinYangDataset(r_small, r_big, size, seed)`` of Kriener et al.

    Features (x, y, 1-x, 1-y) in [0, 1]; classes 0 yin, 1 yang, 2 dot.
    """
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    vals, labels = _yin_yang_arrays(int(size), int(seed), float(r_small), float(r_big))
    return LabeledData(vals.copy(), labels.copy(), YIN_YANG_CLASSES)


def load_yin_yang(train_size: int = 5000, validation_size: int = 1000, test_size: int = 1000) -> DatasetSplits:
    """The published Yin-Yang splits: train seed 42, validation seed 41, test seed 40."""
    return DatasetSplits("yin_yang", yin_yang(train_size, 42), yin_yang(validation_size, 41),
                         yin_yang(test_size, 40))


# --------------------------------------------------------------------------- digits

def _stratified_split(y: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Split indices per class in the given fractions (last part takes the rest), seeded."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        bounds = np.round(np.cumsum(fractions) * len(idx)).astype(int)
        start = 0
        for p, stop in enumerate(bounds):
            stop = len(idx) if p == len(fractions) - 1 else stop
            parts[p].append(idx[start:stop])
            start = stop
    return [np.sort(np.concatenate(p)) for p in parts]


def load_digits(test_fraction: float = 0.2, validation_fraction: float = 0.1, seed: int = 0) -> DatasetSplits:
    """scikit-learn's bundled 8x8 digits (1797 images, no download), pixels scaled to [0, 1].

    Stratified split with ``numpy.random.default_rng(seed)``: fractions of each class go to
    test and validation, the rest to train. ``validation_fraction = 0`` gives no validation set.
    """
    from sklearn.datasets import load_digits as _sk_digits

    if not (0 < test_fraction < 1 and 0 <= validation_fraction < 1 and test_fraction + validation_fraction < 1):
        raise ValueError(f"invalid split fractions test={test_fraction}, validation={validation_fraction}")
    d = _sk_digits()
    x = d.data.astype(np.float64) / 16.0
    y = d.target.astype(np.int64)
    names = tuple(str(c) for c in range(10))
    train_idx, val_idx, test_idx = _stratified_split(
        y, [1.0 - test_fraction - validation_fraction, validation_fraction, test_fraction], seed)
    val = LabeledData(x[val_idx], y[val_idx], names) if len(val_idx) else None
    return DatasetSplits("digits", LabeledData(x[train_idx], y[train_idx], names), val,
                         LabeledData(x[test_idx], y[test_idx], names))


# --------------------------------------------------------------------------- MNIST (IDX)

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not.

    Header: two zero bytes, a type byte (0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int,
    0x0D float, 0x0E double), the number of dimensions, then one big-endian uint32 per dimension.

    Raises:
        ValueError: bad magic number, unknown type, or a file shorter/longer than its header says.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: corrupt gzip stream ({err})") from None
    if len(raw) < 4:
        raise ValueError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code not in _IDX_TYPES or ndim == 0:
        raise ValueError(f"{path}: not an IDX file (magic number 0x{raw[:4].hex()}; expected "
                         "0x0000 followed by a type byte in {08,09,0B,0C,0D,0E} and a dimension count)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[dtype_code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    payload = len(raw) - header
    if payload != expected:
        what = "truncated" if payload < expected else "has trailing bytes"
        raise ValueError(f"{path}: IDX file {what}: dims {dims} need {expected} data bytes, found {payload}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _area_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix averaging input pixels by their overlap with each output pixel."""
    edges_in = np.arange(n_in + 1) / n_in
    edges_out = np.arange(n_out + 1) / n_out
    lo = np.maximum(edges_out[:-1, None], edges_in[None, :-1])
    hi = np.minimum(edges_out[1:, None], edges_in[None, 1:])
    m = np.clip(hi - lo, 0.0, None)
    return m / m.sum(axis=1, keepdims=True)


def downscale_mnist(images: np.ndarray, size: int = 16, crop: int = 24) -> np.ndarray:
    """Center-crop (n, 28, 28) images to ``crop`` x ``crop`` and area-average to ``size`` x ``size``.

    fastAndDeep (``HicannMnist``) uses torchvision CenterCrop(24) + Resize(16) (PIL bilinear with
    antialiasing); exact area averaging is the deterministic, dependency-free equivalent.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"images must be (n, height, width), got {images.shape}")
    h, w = images.shape[1:]
    if crop > min(h, w):
        raise ValueError(f"crop {crop} larger than the images ({h}x{w})")
    top, left = (h - crop) // 2, (w - crop) // 2
    img = images[:, top:top + crop, left:left + crop]
    r = _area_resize_matrix(crop, size)
    return np.einsum("ij,njk,lk->nil", r, img, r)


def load_mnist(images_path: str | Path, labels_path: str | Path, downscale: int | None = None) -> LabeledData:
    """MNIST images and labels from user-supplied IDX files (no download).

    Args:
        images_path, labels_path: IDX files (optionally .gz) such as ``train-images-idx3-ubyte``.
        downscale: None for 28x28, or e.g. 16 for the paper's 16x16 (crop 24x24, then resize).

    Returns:
        LabeledData with pixels scaled to [0, 1] (``/255``), flattened row-major.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise ValueError(f"{images_path}: expected a 3-D image array, got shape {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected a 1-D label array, got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    x = images.astype(np.float64) / 255.0
    if downscale is not None:
        x = downscale_mnist(x, size=int(downscale))
    return LabeledData(x.reshape(len(x), -1), labels.astype(np.int64), tuple(str(c) for c in range(10)))


def load_mnist_splits(train_images: str | Path, train_labels: str | Path, test_images: str | Path,
                      test_labels: str | Path, downscale: int | None = 16,
                      n_validation: int = 10000) -> DatasetSplits:
    """MNIST splits as in fastAndDeep: train = first 60000 - n_validation training images,
    validation = the last n_validation, test = the test file."""
    train = load_mnist(train_images, train_labels, downscale)
    test = load_mnist(test_images, test_labels, downscale)
    if not 0 <= n_validation < len(train):
        raise ValueError(f"n_validation {n_validation} must be in [0, {len(train)})")
    cut = len(train) - n_validation
    val = LabeledData(train.x[cut:], train.y[cut:], train.class_names) if n_validation else None
    return DatasetSplits("mnist", LabeledData(train.x[:cut], train.y[:cut], train.class_names), val, test)


# --------------------------------------------------------------------------- encoding

def encode_times(features: np.ndarray, t_early: float = T_EARLY, t_late: float = T_LATE,
                 invert: bool = False, bias_times: Sequence[float] = ()) -> np.ndarray:
    """Linear latency code: feature value v in [0, 1] -> spike at t_early + v (t_late - t_early) ms.

    Args:
        features: (n, n_features) values in [0, 1] (clipped).
        t_early, t_late: spike times (ms) of the values 0 and 1 (fastAndDeep: 0.15 and 2 tau_syn).
        invert: map v -> 1 - v first (fastAndDeep does this for MNIST so that bright pixels
            spike early).
        bias_times: optional bias spike times (ms) appended as extra columns. Leave empty when
            feeding a :class:`~neuroemu.learning.ttfs.TTFSNetwork`, which adds its own biases.

    Returns:
        (n, n_features + len(bias_times)) spike times in ms.
    """
    if not t_late > t_early:
        raise ValueError(f"t_late ({t_late} ms) must be after t_early ({t_early} ms)")
    v = np.clip(np.asarray(features, dtype=np.float64), 0.0, 1.0)
    if v.ndim != 2:
        raise ValueError(f"features must be (n, n_features), got {v.shape}")
    if invert:
        v = 1.0 - v
    t = t_early + v * (t_late - t_early)
    if len(bias_times):
        t = np.concatenate([t, np.broadcast_to(np.asarray(bias_times, float), (len(t), len(bias_times)))], axis=1)
    return t


def encode_splits(splits: DatasetSplits, t_early: float = T_EARLY, t_late: float = T_LATE,
                  invert: bool = False) -> DatasetSplits:
    """Apply :func:`encode_times` to every split (no bias columns)."""
    def enc(d: LabeledData | None) -> LabeledData | None:
        if d is None:
            return None
        if d.time_coded:
            raise ValueError("data are already time coded")
        return replace(d, x=encode_times(d.x, t_early, t_late, invert), time_coded=True)

    return DatasetSplits(splits.name, enc(splits.train), enc(splits.validation), enc(splits.test))
