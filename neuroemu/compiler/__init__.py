"""The compiler: network description -> IR, as separate passes.

``validate`` (description -> logical network) -> ``place`` (circuits, rows, labels) ->
``quantize`` (6-bit codes and scales) -> ``translate`` (chip-unit targets) -> :class:`IR`.
"""
from __future__ import annotations

import datetime as _dt

import neuroemu
from neuroemu.compiler.place import place
from neuroemu.compiler.quantize import quantize
from neuroemu.compiler.report import resource_report
from neuroemu.compiler.translate import check_delays, neuron_targets, translate
from neuroemu.compiler.validate import validate
from neuroemu.hardware import HardwareConfig, load_hardware
from neuroemu.ir.model import IR, Provenance
from neuroemu.network.model import Network

__all__ = ["compile_network", "validate", "place", "quantize", "translate", "check_delays", "resource_report"]


def compile_network(net: Network, hardware: HardwareConfig | str, *, source: str = "", calibration=None,
                    software_delays: bool = False) -> IR:
    """Compile ``net`` for ``hardware`` (a config or its name/path). Raises NeuroemuError subclasses.

    With a ``calibration`` (:class:`neuroemu.calibration.Calibration`) the weight scales are the
    calibrated synaptic input gains, the targets must be the calibrated ones, and the IR embeds the
    per-circuit codes (it then runs only on that chip instance).
    ``software_delays``: keep synaptic delays the hardware cannot realise (for the brian2
    backend's ``ideal`` and ``as-deployed`` modes, which realise them; the emulator refuses
    such an IR); by default they are refused here, naming the projection."""
    hw = load_hardware(hardware) if isinstance(hardware, str) else hardware
    logical = validate(net)
    if not software_delays:
        check_delays(logical, hw)
    placement = place(logical, hw)
    # parameter ranges before weights: a time constant out of range is the first thing to fix
    neuron_targets(logical, hw)
    fixed_scales = None
    if calibration is not None:
        calibration.check_hardware(hw)
        fixed_scales = calibration.weight_scales(logical, placement, hw)
    weights = quantize(logical, placement, hw, fixed_scales)
    targets = translate(logical, placement, weights, hw)
    if calibration is not None:
        calibration.check_targets(logical, targets, hw)
    provenance = Provenance(
        hardware_name=hw.name,
        hardware_hash=hw.content_hash,
        hardware_json=hw.canonical_json(),
        neuroemu_version=neuroemu.__version__,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        description_source=source,
        calibration_id=None if calibration is None else calibration.id,
    )
    return IR(network=logical, placement=placement, weights=weights, targets=targets, provenance=provenance,
              calibration=None if calibration is None else calibration.to_ir())
