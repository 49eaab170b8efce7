"""Calibration targets: what every circuit should realise, in chip units.

Defaults are calix's (``calix.spiking.neuron.NeuronCalibTarget``): leak 80, reset 70,
threshold 125 CADC; tau_mem 10 µs, tau_syn 10 µs, refractory 2 µs; plus a synaptic input
gain (V/µs per weight code) that maps 63 codes to ~4.7 nA at 1 nF on one circuit.
"""
from __future__ import annotations

from neuroemu.hardware.config import PARAMETERS, HardwareConfig

#: calix defaults; potentials in CADC codes, times in µs, gain in V/µs per weight code
CALIX_DEFAULTS: dict[str, float] = {
    "v_leak": 80.0,  # CADC
    "v_reset": 70.0,  # CADC
    "v_thresh": 125.0,  # CADC
    "tau_mem": 10.0,
    "tau_syn_exc": 10.0,
    "tau_syn_inh": 10.0,
    "tau_refrac": 2.0,
    "input_gain_exc": 1.0e-3,
    "input_gain_inh": 1.0e-3,
}
POTENTIALS = ("v_leak", "v_reset", "v_thresh")


def default_targets(hw: HardwareConfig) -> dict[str, float]:
    """The calix default targets in chip units of ``hw`` (potentials in V)."""
    out = {}
    for name in PARAMETERS:
        value = CALIX_DEFAULTS[name]
        out[name] = float(hw.cadc_voltage_V(value)) if name in POTENTIALS else value
    return out
