"""How NIR's neuron equations map onto neuroemu's description (biological ms, mV, nA, nF).

NIR (``nir.ir.neuron``) writes its neurons in SI seconds and dimensionless state::

    CubaLIF:  tau_syn dI/dt = -I + w_in S        tau_mem dv/dt = (v_leak - v) + r I
    LIF:      tau dv/dt = (v_leak - v) + r S      (no synaptic filter)
    IF:       dv/dt = r S                         (no leak, no synaptic filter)
    CubaLI, LI, I: the same without spiking (readouts)

with a spike when ``v > v_threshold`` and then ``v = v_reset``; ``S`` is the weighted input,
``W s + b`` of the Affine / Linear nodes before it, input spikes being Dirac deltas.

neuroemu's neuron (:mod:`neuroemu.network.model`)::

    cm dV/dt = -(cm/tau_m)(V - v_rest) + I_exc + I_inh + i_offset,   dI/dt = -I/tau_s,  I += q per spike

The map, with the import's choices ``time_scale`` (1 s of NIR time is ``1000 * time_scale`` ms
of biological time), ``v_scale`` (mV per NIR voltage unit) and ``v_offset`` (mV of NIR's
``v = 0``), and ``cm`` (nF, any value: it only sets the unit of the currents)::

    tau_bio = 1000 * time_scale * tau                 (ms)
    V = v_offset + v_scale * v                        (mV: v_leak -> v_rest, v_threshold, v_reset)
    q = cm * v_scale * (r / tau_mem_bio) * dI         (nA per input spike, CubaLIF)
    dI = w_in * W / tau_syn                           (NIR's jump of I per spike, tau_syn in s)
    i_offset = cm * v_scale * (r / tau_mem_bio) * w_in * b      (nA, an Affine bias b)

Derivation: in biological time the NIR membrane reads tau_mem_bio dv/dt = (v_leak - v) + r I;
multiplying by ``v_scale`` and comparing with neuroemu's equation divided by ``cm / tau_m``
gives ``I_bio = cm * v_scale * r * I / tau_mem_bio``. A bias is a constant input: its current
settles at ``w_in * b`` (after tau_syn; neuroemu applies it from the start, the one
difference) and is the constant current ``i_offset`` -- the same mechanism as PyNN's
``i_offset``, realised on the chip as a shifted leak potential.

Nodes without a synaptic filter (LIF, IF, LI, I) get the shortest synaptic time constant the
hardware allows, ``tau_s``, and the charge of NIR's instantaneous voltage jump
``dv = r W / tau`` (IF: ``r W``): ``q = cm * v_scale * dv / tau_s``; the membrane then rises
over ~tau_s instead of jumping, so spikes come up to ~tau_s later (stated in the import
report). IF and I have no leak: they get the longest membrane time constant the hardware
allows (the leak over a run of length T loses a fraction ~T / tau_m, stated too).

Discrete-time exports. snnTorch, Norse, Lava and Rockpool write ``r = tau_mem / dt`` and
``w_in = tau_syn / dt`` so that NIR's equations, stepped by Euler with input spikes of one
step (value 1, i.e. area ``dt``), give their update::

    I[n+1] = (1 - dt/tau_syn) I[n] + (dt/tau_syn) w_in (W s[n] + b)
    v[n+1] = (1 - dt/tau_mem) v[n] + (dt/tau_mem) (v_leak + r I[n+1])

Given ``dt``, the import realises that update exactly at the step times for inputs on the
grid (for CubaLIF / CubaLI; nodes without a synaptic filter get the charge of their Euler step
through the chip's shortest filter, so their inputs arrive over ~tau_s rather than within the
step): decays ``exp(-dt/tau') = 1 - dt/tau`` (``tau' = -dt / ln(1 - dt/tau)``), a jump
``dI = w_in W dt / tau_syn`` per spike, and a coupling ``r'`` such that a current held from
one step to the next adds ``(dt/tau_mem) r I[n+1]`` to the membrane::

    r' = (dt r / tau_mem) / k,   k = (1/tau_m') int_0^dt e^{-(dt-u)/tau_m'} e^{-u/tau_s'} du

Between steps the membrane is continuous, so a neuron may cross its threshold between two
steps at which the discrete model samples it: the spike comes up to one step earlier and the
membrane restarts from the reset that much earlier. A discrete neuron spikes at most once per
step and restarts at the step after its crossing; the import gives discrete-time neurons a
refractory time of half a step, the mean of that gap (our assumption; spike counts then agree
with the discrete model to ~10-25 %, see the README). Without ``dt`` a file is imported as the
continuous model it literally describes, whatever wrote it; the import report says which.

Initial state: a chip neuron rests at its leak potential, biases included (``v_leak + r w_in b``
for a CubaLIF); NIR's reference simulations start at ``v = 0, I = 0``. Start a run from NIR's
zero with ``Backend.initial_state(ir, v_mV=v_offset)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neuroemu.errors import NetworkError
from neuroemu.models.psp import kernel_p_array


@dataclass(frozen=True)
class Convention:
    """The choices of one import: ``time_scale`` (biological ms per NIR ms), ``dt`` (s: the
    step of a discrete-time export; None = continuous), ``v_scale`` (mV per NIR voltage unit),
    ``v_offset`` (mV of NIR's 0), ``cm`` (nF)."""

    time_scale: float = 1.0
    dt: float | None = None
    v_scale: float = 15.0
    v_offset: float = -65.0
    cm: float = 1.0

    def __post_init__(self) -> None:
        for name in ("time_scale", "v_scale", "cm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise NetworkError(f"NIR import: {name} must be a positive number, got {value!r}")
        if not math.isfinite(self.v_offset):
            raise NetworkError(f"NIR import: v_offset must be a finite number (mV), got {self.v_offset!r}")
        if self.dt is not None and not (math.isfinite(self.dt) and self.dt > 0):
            raise NetworkError(f"NIR import: dt must be a positive time step in seconds, got {self.dt!r}")

    @property
    def discrete(self) -> bool:
        return self.dt is not None

    def ms(self, tau_s: np.ndarray) -> np.ndarray:
        """NIR time (s) -> biological ms."""
        return 1000.0 * self.time_scale * np.asarray(tau_s, float)

    def mV(self, v: np.ndarray) -> np.ndarray:
        """NIR voltage -> biological mV."""
        return self.v_offset + self.v_scale * np.asarray(v, float)

    def decay_tau(self, tau: np.ndarray, node: str, name: str) -> np.ndarray:
        """The continuous time constant (s) of NIR's ``tau``: itself, or for a discrete export the
        one whose decay over ``dt`` equals the Euler step's ``1 - dt/tau``."""
        tau = np.asarray(tau, float)
        if self.dt is None:
            return tau
        if np.any(tau <= self.dt):
            bad = float(tau[np.argmax(tau <= self.dt)])
            raise NetworkError(f"NIR node '{node}': {name} {bad:g} s is not longer than dt {self.dt:g} s, so the "
                               "discrete-time update it encodes (decay 1 - dt/tau per step) has no continuous "
                               "equivalent")
        return -self.dt / np.log1p(-self.dt / tau)

    def coupling(self, r: np.ndarray, tau_mem: np.ndarray, tau_syn: np.ndarray) -> np.ndarray:
        """The membrane coupling realised for NIR's ``r`` (see the module docstring): ``r`` itself
        for continuous time, ``r'`` for a discrete export (``tau_mem``/``tau_syn`` as in the file, s)."""
        r = np.asarray(r, float)
        if self.dt is None:
            return r
        dt = self.dt
        tm = self.decay_tau(tau_mem, "", "tau_mem")
        ts = self.decay_tau(tau_syn, "", "tau_syn")
        k = kernel_p_array(dt, tm, ts) / tm
        return (dt * r / np.asarray(tau_mem, float)) / k

    def input_area(self) -> float:
        """Area of one input spike in NIR's equations: 1 (Dirac delta) or ``dt`` (one step of value 1)."""
        return 1.0 if self.dt is None else float(self.dt)

