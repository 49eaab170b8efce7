"""Counter-based random numbers for the emulator kernel.

Every temporal random draw is a pure function of (run seed, trial, neuron, step, stream):
results are bit-identical whatever the number of threads or the order of trials. The hash is
the murmur3 32-bit finalizer, computed in int64 with explicit masks (numba widens uint32
arithmetic to int64; the low 32 bits of a wrapped product are exact).
"""
from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir as llvm_ir
from numba.extending import intrinsic

_MASK = 0xFFFFFFFF
_M1 = 0x85EBCA6B
_M2 = 0xC2B2AE35
_GOLD = 0x9E3779B9
_SQRT3 = float(np.sqrt(3.0))


@nb.njit(inline="always", cache=True)
def mix32(x: int) -> int:
    """murmur3 fmix32 of the low 32 bits of ``x`` (returns 0 <= h < 2**32)."""
    x &= _MASK
    x ^= x >> 16
    x = (x * _M1) & _MASK
    x ^= x >> 13
    x = (x * _M2) & _MASK
    x ^= x >> 16
    return x


@nb.njit(cache=True)
def stream_key(seed: int, trial: int, stream: int) -> int:
    """A 32-bit key for one (run seed, trial, stream): the base of per-draw counters."""
    k = mix32(seed ^ _GOLD)
    k = mix32(k ^ (seed >> 32))
    k = mix32(k ^ ((trial * _M1) & _MASK))
    return mix32(k ^ ((stream * _M2) & _MASK))


@nb.njit(inline="always", cache=True)
def approx_normal(key: int, counter: int) -> float:
    """Approximately standard normal: Irwin-Hall sum of four 8-bit uniforms, rescaled.

    Mean 0, variance 1 (to 1e-5), bounded at +-3.46. Used for membrane-noise increments,
    which the leak sums over many steps, so the membrane noise itself is Gaussian."""
    h = mix32(key ^ mix32(counter * _GOLD))
    s = (float(h & 0xFF) + float((h >> 8) & 0xFF) + float((h >> 16) & 0xFF) + float(h >> 24) + 2.0) * (1.0 / 256.0)
    return (s - 2.0) * _SQRT3


@nb.njit(inline="always", cache=True)
def uniform01(key: int, counter: int) -> float:
    """Uniform on (0, 1), 32-bit resolution."""
    h = mix32(key ^ mix32(counter * _GOLD + 0x632BE5AB))
    return (float(h) + 0.5) * (1.0 / 4294967296.0)


@nb.njit(inline="always", cache=True)
def normal(key: int, counter: int) -> float:
    """Standard normal (Box-Muller on two counter-based uniforms)."""
    u1 = uniform01(key, 2 * counter)
    u2 = uniform01(key, 2 * counter + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@intrinsic
def fmix32_byte_sum(typingctx, key, hashed_counter):
    """Sum of the four bytes of ``mix32(key ^ hashed_counter)`` (both uint32), in 32-bit
    integer arithmetic so that a loop over neurons vectorizes (numba widens uint32 products
    to 64 bits, which AVX2 cannot multiply in SIMD). With ``hashed_counter = mix32(counter *
    _GOLD)``, ``((sum + 2) / 256 - 2) * sqrt(3)`` is bit for bit
    :func:`approx_normal` ``(key, counter)``."""
    if key != nb.types.uint32 or hashed_counter != nb.types.uint32:
        return None

    def codegen(context, builder, signature, args):
        i32 = llvm_ir.IntType(32)

        def c(x):
            return llvm_ir.Constant(i32, x)

        x = builder.xor(args[0], args[1])
        x = builder.xor(x, builder.lshr(x, c(16)))
        x = builder.mul(x, c(_M1))
        x = builder.xor(x, builder.lshr(x, c(13)))
        x = builder.mul(x, c(_M2))
        x = builder.xor(x, builder.lshr(x, c(16)))
        total = builder.add(builder.and_(x, c(0xFF)), builder.and_(builder.lshr(x, c(8)), c(0xFF)))
        total = builder.add(total, builder.and_(builder.lshr(x, c(16)), c(0xFF)))
        return builder.add(total, builder.lshr(x, c(24)))

    return nb.types.int32(nb.types.uint32, nb.types.uint32), codegen


@nb.njit(inline="always", cache=True)
def approx_normal_hashed(key, hashed_counter) -> float:
    """:func:`approx_normal` ``(key, counter)`` bit for bit, from ``hashed_counter = mix32(counter *
    _GOLD)`` (both uint32): the form whose loop over neurons vectorizes (see fmix32_byte_sum)."""
    return ((float(fmix32_byte_sum(key, hashed_counter)) + 2.0) * (1.0 / 256.0) - 2.0) * _SQRT3
