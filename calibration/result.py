"""The result of a calibration: per-circuit DAC codes of one chip instance, with what was measured.

:class:`Calibration` is what the compiler and the emulator consume (``codes_for``,
``check_hardware``, ``weight_scales``, ``check_targets``, ``to_ir``) and what is written to HDF5
(kind ``calibration``) by the one serializer.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuroemu.calibration.targets import CalibrationTarget
from neuroemu.errors import BackendError, NeuroemuError
from neuroemu.hardware.config import HardwareConfig
from neuroemu.hdf5 import create, open_checked, serialize
from neuroemu.ir.model import RECEPTORS, ChipTargets, IRCalibration, LogicalNetwork, Placement
from neuroemu.models.lif import CIRCUIT_UNITS as UNITS
from neuroemu.models.lif import DESCRIPTION_OF, NEURON_CIRCUIT_NAMES, POTENTIALS

#: bumped when the measurement or search method changes: part of every calibration's identity
#: 2: emulator kernel with grouped event delivery (measurements move by ~1e-12); 3: tau_refrac set
#: digitally, not searched, on configs with a refractory counter (their setups set it by target);
#: 4: the reset read once a finite reset conductance settled, clamps end where the membrane rises,
#: PSP stimuli timed for the chip's input latency
METHOD_VERSION = 4


class CalibrationError(NeuroemuError):
    """A calibration does not fit what it is applied to (another chip, config or targets)."""


def calibration_id(hardware_hash: str, chip_seed: int, targets: CalibrationTarget, imperfections_json: str,
                   seed: int) -> str:
    """Short hash of everything that determines a calibration: config content, chip seed,
    targets, run-level imperfections, noise seed and method version."""
    key = json.dumps({"hardware": hardware_hash, "chip": int(chip_seed),
                      "targets": json.loads(targets.canonical_json()),
                      "imperfections": json.loads(imperfections_json), "seed": int(seed), "method": METHOD_VERSION},
                     sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass
class Calibration:
    """Per-circuit DAC codes for ``targets`` on chip ``chip_seed`` of config ``hardware_name``.

    Arrays are (parameters, circuits) in the order of ``parameters``; values in chip units
    (V, µs, V/µs per weight code). ``achieved``: measured at the calibrated codes;
    ``uncalibrated``: measured at the nominal code of the target (the uncalibrated chip);
    ``success``: achieved within tolerance of the target (failed circuits are listed by
    :meth:`failures`, never hidden).

    On a config with a refractory counter (``realism.refractory``) tau_refrac is set digitally,
    not calibrated: its ``achieved`` and ``uncalibrated`` are the counter x clock period the chip
    is set to (the same on every circuit; its distance from the target is the quantization
    error), its codes the nominal code (unused: no DAC sets it), its ``success`` that one
    measurement confirmed the set time on the circuit; ``refractory_json`` holds the settings,
    quantization error and measurement (:attr:`refractory_counter`), empty elsewhere.
    """

    id: str
    hardware_name: str
    hardware_hash: str
    chip_seed: int
    neuroemu_version: str
    created: str
    targets: CalibrationTarget
    parameters: list[str]
    codes: np.ndarray  # float64 (parameters, circuits)
    achieved: np.ndarray  # float64 (parameters, circuits)
    uncalibrated: np.ndarray  # float64 (parameters, circuits)
    nominal_codes: np.ndarray  # float64 (parameters,)
    success: np.ndarray  # bool (parameters, circuits)
    imperfections_json: str = "{}"
    cadc_V_per_lsb: float = 0.0  # resolution of the potential reads (V)
    seed: int = 0
    method_version: int = METHOD_VERSION
    runs: int = 0
    emulated_us: float = 0.0
    wall_time_s: float = 0.0
    refractory_json: str = ""

    # --- access -------------------------------------------------------------------------------
    @property
    def n_circuits(self) -> int:
        return int(self.codes.shape[1])

    def index(self, name: str) -> int:
        try:
            return self.parameters.index(name)
        except ValueError:
            raise KeyError(f"parameter '{name}' is not calibrated (calibrated: {', '.join(self.parameters)})") from None

    def codes_of(self, name: str) -> np.ndarray:
        return self.codes[self.index(name)]

    def achieved_of(self, name: str) -> np.ndarray:
        return self.achieved[self.index(name)]

    def failures(self) -> dict[str, list[int]]:
        """Circuits that missed their target, per parameter (only parameters with failures)."""
        out = {}
        for i, name in enumerate(self.parameters):
            bad = np.flatnonzero(~self.success[i])
            if bad.size:
                out[name] = [int(c) for c in bad]
        return out

    @property
    def ok(self) -> bool:
        return bool(self.success.all())

    @property
    def refractory_counter(self) -> dict[str, Any] | None:
        """The digitally set refractory time (counter, clock scale and period µs, set time and
        quantization error µs, the verifying measurement), or None where tau_refrac was calibrated."""
        return json.loads(self.refractory_json) if self.refractory_json else None

    # --- emulator -----------------------------------------------------------------------------
    def codes_for(self, chip) -> dict[str, np.ndarray]:
        """Per-circuit codes for ``chip`` (the emulator's interface); refuses another chip."""
        if chip.hardware.content_hash != self.hardware_hash or int(chip.seed) != self.chip_seed:
            raise BackendError(
                f"calibration {self.id} is for chip {self.chip_seed} of hardware '{self.hardware_name}' (config "
                f"{self.hardware_hash[:12]}); this run uses chip {chip.seed} of '{chip.hardware.name}' (config "
                f"{chip.hardware.short_hash}): calibrate that chip (neuroemu calibrate --hardware {chip.hardware.name} "
                f"--chip {chip.seed}) or run on chip {self.chip_seed}"
            )
        return {name: self.codes[i].copy() for i, name in enumerate(self.parameters)}

    # --- compiler -----------------------------------------------------------------------------
    def check_hardware(self, hw: HardwareConfig) -> None:
        """Refuse a config other than the calibrated one."""
        if hw.content_hash != self.hardware_hash:
            raise CalibrationError(
                f"calibration {self.id} was made on hardware '{self.hardware_name}' "
                f"(config {self.hardware_hash[:12]}); the network is compiled for '{hw.name}' "
                f"(config {hw.short_hash}): compile for the calibrated config or calibrate '{hw.name}'"
            )

    def weight_scales(self, logical: LogicalNetwork, placement: Placement,
                      hw: HardwareConfig) -> dict[tuple[str, int], float]:
        """Weight scale (nA per weight code) of every (LIF population, receptor) that has inputs,
        from the calibrated input gains: on a neuron of k merged circuits and capacitance C_m,
        one code is gain / k of current over C_m. C_m and k must be uniform in a population."""
        self.check_hardware(hw)
        syn = logical.synapses
        post_lif = logical.lif_index()[syn.post]
        out: dict[tuple[str, int], float] = {}
        for pop in logical.lif_populations():
            idx = np.arange(pop.lif_first, pop.lif_first + pop.size)
            in_pop = (post_lif >= pop.lif_first) & (post_lif < pop.lif_first + pop.size)
            for rec, rname in enumerate(RECEPTORS):
                if not np.any(in_pop & (syn.receptor == rec)):
                    continue
                cm = logical.params.cm[idx]
                k = placement.size[idx]
                for what, arr, unit in (("cm", cm, " nF"), ("merge size", k, " circuits")):
                    if np.ptp(arr) > 1e-12 * max(1.0, float(np.abs(arr).max())):
                        i = int(np.argmax(arr != arr[0]))
                        raise CalibrationError(
                            f"population '{pop.name}': {what} varies ({float(arr[0]):g}{unit} for neuron 0, "
                            f"{float(arr[i]):g}{unit} for neuron {i}); with calibration {self.id} every neuron of a "
                            "population shares one weight scale, so split the population or make it uniform"
                        )
                gain = self.targets.get(f"input_gain_{rname}")
                out[(pop.name, rec)] = float(hw.bio_current_nA(gain / float(k[0]), float(cm[0])))
        return out

    def check_targets(self, logical: LogicalNetwork, targets: ChipTargets, hw: HardwareConfig) -> None:
        """Every neuron's chip target must be the calibrated one (input gains excepted: they
        follow from the weight scales; and the refractory time where a counter makes it: the
        network's own targets set the counters). The error names parameter, population, value
        and the calibrated value (also in biological units)."""
        pops = logical.lif_populations()
        for name in NEURON_CIRCUIT_NAMES:
            if name == "tau_refrac" and hw.realism.refractory is not None:
                continue
            want = self.targets.get(name)
            got = np.asarray(targets.get(name), float)
            bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-6, atol=1e-9))
            if not bad.size:
                continue
            i = int(bad[0])
            pop = next(p for p in pops if p.lif_first <= i < p.lif_first + p.size)
            raise CalibrationError(
                f"population '{pop.name}' neuron {i - pop.lif_first}: {name} is {_fmt(hw, name, got[i])}, but "
                f"calibration {self.id} was made for {_fmt(hw, name, want)}: set the population's "
                f"{DESCRIPTION_OF[name]} to {_bio(hw, name, want)} or calibrate for the network's targets (neuroemu "
                "calibrate --target FILE)"
            )

    def to_ir(self) -> IRCalibration:
        """The codes as the IR embeds them (runs only on this chip instance)."""
        return IRCalibration(id=self.id, chip_seed=self.chip_seed, hardware_hash=self.hardware_hash,
                             parameters=list(self.parameters), codes=self.codes.copy())

    # --- files --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write to HDF5 (kind ``calibration``, atomic)."""
        with create(path, "calibration") as f:
            serialize.write(f.create_group("calibration"), self)

    def summary(self) -> dict[str, Any]:
        from neuroemu.calibration.report import calibration_report

        return calibration_report(self)


def _fmt(hw: HardwareConfig, name: str, value: float) -> str:
    if name in POTENTIALS:
        return f"{value:.6g} V (CADC {float(hw.cadc_code(value)):.2f}, {float(hw.bio_voltage_mV(value)):.4g} mV)"
    return f"{value:.6g} {UNITS[name]} ({float(hw.bio_time_ms(value)):.4g} ms biological)"


def _bio(hw: HardwareConfig, name: str, value: float) -> str:
    if name in POTENTIALS:
        return f"{float(hw.bio_voltage_mV(value)):.6g} mV"
    return f"{float(hw.bio_time_ms(value)):.6g} ms"


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration file (HDF5 kind ``calibration``); bad files raise FileFormatError."""
    with open_checked(path, "calibration") as f:
        return serialize.read(f["calibration"], Calibration)
