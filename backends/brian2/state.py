"""Where a Brian2 run stopped, to continue a run from (SI units, as Brian2 holds them)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuroemu.backends.base import RunState


@dataclass
class Brian2State(RunState):
    """The LIF variables of every (trial, LIF neuron) at ``time_ms``: ``variables`` maps
    :data:`~neuroemu.backends.brian2.network.STATE_VARIABLES` to (trials, n_lif) arrays (v in
    volt, currents in ampere, ``lastspike``: the absolute start (s) of the step of the last
    spike, Brian2's refractory clock; -inf: never); ``carry_*``: delayed spikes (absolute ms,
    virtual node, trial) that act after ``time_ms``. ``on_grid``: ``time_ms`` is a multiple of
    ``dt_ms`` (only then can a run continue)."""

    dt_ms: float = 0.0
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    carry_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    carry_node: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    carry_trial: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def on_grid(self) -> bool:
        """``time_ms`` is a multiple of ``dt_ms`` (only then can a run continue)."""
        k = round(self.time_ms / self.dt_ms)
        return abs(k * self.dt_ms - self.time_ms) <= 1e-9 * max(1.0, self.time_ms)

    @property
    def v_mV(self) -> np.ndarray:
        """Membrane potentials (trials, n_lif), biological mV."""
        return self.variables["v"] * 1e3
