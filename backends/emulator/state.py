"""Where an emulator run stopped: the chip's state, to continue a run from (chip units)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuroemu.backends.base import RunState
from neuroemu.hardware.config import VoltageMap


def _empty(dtype) -> np.ndarray:
    return np.zeros(0, dtype)


@dataclass
class EmulatorState(RunState):
    """The emulated chip at the end of a run, per (trial, LIF neuron), chip units.

    The arrays sit at the absolute integration step ``step`` (time ``step * dt_us`` µs, at or
    just past ``time_ms``); continuing runs the same steps with the same random draws as one
    longer run would. ``v_rel``: membrane minus ``v_leak`` (V), the leak potentials of the
    effective network it ran on (a reconfigured chip keeps V, see ``EmulatorBackend._start``),
    ``voltage`` the config's voltage map (for ``v_mV``);
    ``i_exc``/``i_inh``: synaptic currents over capacitance (V/µs); ``refractory_until_us``:
    absolute end of each refractory period (-inf: free);
    ``late_*``: spikes already found past ``time_ms`` (in the last step), reported by the next run;
    ``in_flight_*``: on-chip spikes emitted before the end that reach their targets (after the
    chip's latency) after it: arrival (absolute chip µs), global node, trial; the next run
    delivers them.
    """

    voltage: VoltageMap | None = None
    step: int = 0
    dt_us: float = 0.0
    v_rel: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)))
    v_leak: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    i_exc: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)))
    i_inh: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)))
    refractory_until_us: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)))
    late_ms: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    late_lif: np.ndarray = field(default_factory=lambda: _empty(np.int32))
    late_trial: np.ndarray = field(default_factory=lambda: _empty(np.int32))
    in_flight_us: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    in_flight_node: np.ndarray = field(default_factory=lambda: _empty(np.int32))
    in_flight_trial: np.ndarray = field(default_factory=lambda: _empty(np.int64))

    @property
    def v_mV(self) -> np.ndarray:
        """Membrane potentials (trials, n_lif), biological mV (through the config's voltage map)."""
        vm = self.voltage
        return vm.bio_reference_mV + ((self.v_rel + self.v_leak[None, :]) - vm.chip_reference_V) / vm.chip_V_per_bio_mV
