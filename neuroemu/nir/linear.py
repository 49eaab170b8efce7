"""NIR's linear nodes as sparse matrices on flattened (C-order) vectors.

Each node maps its input ``x`` (shape ``in_shape``, flattened) to ``A x + b``:

| node | A | b |
|---|---|---|
| ``Affine(weight, bias)`` | ``weight`` (out, in) | ``bias`` |
| ``Linear(weight)`` | ``weight`` | 0 |
| ``Scale(scale)`` | ``diag(scale)`` | 0 |
| ``Flatten`` | identity (only the shape changes) | 0 |
| ``Conv1d`` / ``Conv2d`` | convolution (stride, padding, dilation, groups) as synapses | ``bias`` per output channel |
| ``SumPool2d`` / ``AvgPool2d`` | sum (average: / kernel area) over each window | 0 |

Chains of them between two neuron layers compose into one matrix (``A2 (A1 x + b1) + b2``);
the importer turns its nonzero entries into synapses and the bias into a constant current.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from neuroemu.nir.graph import NirError

LINEAR_TYPES = ("Affine", "Linear", "Scale", "Flatten", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d")


def _pair(value: Any, n: int = 2) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(value)).astype(int).ravel()
    return tuple(int(arr[0]) for _ in range(n)) if arr.size == 1 else tuple(int(x) for x in arr[:n])


def _padding(value: Any, kernel: tuple[int, ...], dilation: tuple[int, ...], name: str) -> tuple[int, ...]:
    """Padding per spatial dimension; ``"same"`` (stride 1) and ``"valid"`` as in PyTorch."""
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode()
    if isinstance(value, str) or (isinstance(value, np.ndarray) and value.dtype.kind in "US"):
        text = str(value)
        if text == "valid":
            return tuple(0 for _ in kernel)
        if text == "same":
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            if any(t % 2 for t in total):
                raise NirError(f"NIR node '{name}': padding 'same' with an even kernel extent is asymmetric; "
                                   "neuroemu reads symmetric padding only")
            return tuple(t // 2 for t in total)
        raise NirError(f"NIR node '{name}': unknown padding {text!r} (an integer, 'same' or 'valid')")
    return _pair(value, len(kernel))


def _conv_matrix(weight: np.ndarray, in_shape: tuple[int, ...], stride, padding, dilation, groups: int,
                 name: str) -> tuple[sp.csr_matrix, tuple[int, ...]]:
    """Convolution (cross-correlation, as PyTorch) of input (C, *spatial) as a sparse matrix."""
    nd = weight.ndim - 2
    c_out, c_in_g = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    if len(in_shape) != nd + 1:
        raise NirError(f"NIR node '{name}': input shape {tuple(in_shape)} does not fit a {nd}-d convolution "
                           f"(channels + {nd} spatial dimensions)")
    c_in, spatial = in_shape[0], tuple(in_shape[1:])
    if groups < 1 or c_in % groups or c_out % groups or c_in // groups != c_in_g:
        raise NirError(f"NIR node '{name}': weight {weight.shape} with groups {groups} does not fit {c_in} input "
                           "channels")
    stride, dilation = _pair(stride, nd), _pair(dilation, nd)
    pad = _padding(padding, kernel, dilation, name)
    out_sp = tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                   for s, p, d, k, st in zip(spatial, pad, dilation, kernel, stride))
    if any(o < 1 for o in out_sp):
        raise NirError(f"NIR node '{name}': kernel {kernel} does not fit input {tuple(in_shape)}")
    out_idx = np.indices(out_sp).reshape(nd, -1)  # (nd, positions)
    n_pos_out, n_pos_in = int(np.prod(out_sp)), int(np.prod(spatial))
    # input channel of every (output channel, channel within its group)
    ci = (np.arange(c_out) // (c_out // groups))[:, None] * c_in_g + np.arange(c_in_g)[None, :]
    rows, cols, vals = [], [], []
    for koff in np.ndindex(*kernel):  # per kernel offset, every channel pair and position at once
        pos = [out_idx[d] * stride[d] - pad[d] + koff[d] * dilation[d] for d in range(nd)]
        ok = np.all([(q >= 0) & (q < spatial[d]) for d, q in enumerate(pos)], axis=0)
        src = np.ravel_multi_index([q[ok] for q in pos], spatial)
        dst = np.ravel_multi_index([o[ok] for o in out_idx], out_sp)
        w = weight[(slice(None), slice(None), *koff)]  # (c_out, c_in_g)
        co, k = np.nonzero(w)
        rows.append((co[:, None] * n_pos_out + dst[None, :]).ravel())
        cols.append((ci[co, k][:, None] * n_pos_in + src[None, :]).ravel())
        vals.append(np.repeat(w[co, k], len(dst)))
    n_out, n_in = c_out * int(np.prod(out_sp)), c_in * int(np.prod(spatial))
    if not rows:
        return sp.csr_matrix((n_out, n_in)), (c_out, *out_sp)
    m = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_out, n_in))
    return m, (c_out, *out_sp)


def _pool_matrix(kernel, stride, padding, in_shape: tuple[int, ...], average: bool,
                 name: str) -> tuple[sp.csr_matrix, tuple[int, ...]]:
    if len(in_shape) != 3:
        raise NirError(f"NIR node '{name}': 2-d pooling needs input (channels, height, width), got {tuple(in_shape)}")
    k = _pair(kernel)
    weight = np.zeros((in_shape[0], 1, *k))
    weight[:] = 1.0 / (k[0] * k[1]) if average else 1.0
    return _conv_matrix(weight, in_shape, _pair(stride), _pair(padding), 1, in_shape[0], name)


def node_matrix(node, in_shape: tuple[int, ...], name: str) -> tuple[sp.csr_matrix, np.ndarray | None, tuple[int, ...]]:
    """(A, bias or None, output shape) of linear node ``node`` for input shape ``in_shape``."""
    kind = type(node).__name__
    n_in = int(np.prod(in_shape))
    if kind in ("Affine", "Linear"):
        w = np.asarray(node.weight, float)
        if w.ndim != 2 or w.shape[1] != n_in:
            raise NirError(f"NIR node '{name}' ({kind}): weight shape {w.shape} does not take its input of "
                               f"{n_in} values (shape {tuple(in_shape)}); expected "
                               f"({w.shape[0] if w.ndim == 2 else '?'}, "
                               f"{n_in})")
        bias = None
        if kind == "Affine":
            bias = np.broadcast_to(np.asarray(node.bias, float).ravel(), (w.shape[0],)).copy()
        return sp.csr_matrix(w), bias, (w.shape[0],)
    if kind == "Scale":
        s = np.asarray(node.scale, float).ravel()
        if s.size not in (1, n_in):
            raise NirError(f"NIR node '{name}' (Scale): {s.size} scales for an input of {n_in} values")
        return sp.diags(np.broadcast_to(s, (n_in,))).tocsr(), None, tuple(in_shape)
    if kind == "Flatten":
        out = getattr(node, "output_type", None) or {}
        shape = tuple(int(x) for x in np.atleast_1d(out.get("output", [n_in])))
        if int(np.prod(shape)) != n_in:
            shape = (n_in,)
        return sp.identity(n_in, format="csr"), None, shape
    if kind in ("Conv1d", "Conv2d"):
        w = np.asarray(node.weight, float)
        m, out_shape = _conv_matrix(w, tuple(in_shape), node.stride, node.padding, node.dilation, int(node.groups),
                                    name)
        bias = np.asarray(node.bias, float).ravel()
        if bias.size in (0,) or not np.any(bias):
            return m, None, out_shape
        per = int(np.prod(out_shape[1:]))
        return m, np.repeat(np.broadcast_to(bias, (out_shape[0],)), per), out_shape
    if kind in ("SumPool2d", "AvgPool2d"):
        m, out_shape = _pool_matrix(node.kernel_size, node.stride, node.padding, tuple(in_shape), kind == "AvgPool2d",
                                    name)
        return m, None, out_shape
    raise NirError(f"NIR node '{name}': {kind} is not a linear node")
