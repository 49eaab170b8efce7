"""Compiling an imported NIR graph, with the compiler's refusals said in NIR's terms.

The compiler checks the ranges (one place); this module names the NIR node and what would
make the graph fit. The time constants taken from the file scale with ``time_scale`` (the
others stand in for what NIR leaves out and sit at the hardware's extremes already): a time
constant outside the chip's range comes with the interval of ``time_scale`` over which every
time constant of the graph fits (or that none does); a potential with the ``v_scale`` /
``v_offset`` advice; a weight beyond the chip's synaptic strength with the ``v_scale`` or
``time_scale`` that fits; a Delay names its node; a graph too large for the chip says by how much.
"""
from __future__ import annotations

import numpy as np

from neuroemu.compiler import compile_network
from neuroemu.errors import DelayError, RangeError, ResourceError
from neuroemu.hardware import HardwareConfig, load_hardware
from neuroemu.ir.model import IR
from neuroemu.network import Network
from neuroemu.nir.graph import NirError
from neuroemu.nir.report import ImportReport

_TIME = ("tau_mem", "tau_syn_exc", "tau_syn_inh")
_NIR_NAME = {"tau_mem": "tau_mem", "tau_syn_exc": "tau_syn", "tau_syn_inh": "tau_syn", "v_thresh": "v_threshold",
             "v_reset": "v_reset", "v_inf": "the leak potential (v_leak, with any Affine bias)",
             "v_rest": "the leak potential (v_leak)"}


def time_scale_range(net: Network, report: ImportReport, hw: HardwareConfig) -> tuple[float, float]:
    """The factors f by which the import's time_scale may be multiplied so that every time
    constant taken from the file lies in the chip's range: (f_low, f_high); f_low > f_high
    when no single factor fits them all."""
    lo_f, hi_f = 0.0, np.inf
    for pop_name, names in report.time_constants_from_file.items():
        pop = net.population(pop_name)
        for name in names:
            bio = pop.param(name)
            lo, hi = (float(hw.bio_time_ms(x)) for x in hw.parameters[name].range)
            lo_f = max(lo_f, float(np.max(lo / bio)))
            hi_f = min(hi_f, float(np.min(hi / bio)))
    return lo_f, hi_f


def compile_nir(path_or_graph, hardware: HardwareConfig | str = "bss2", time_scale: float = 1.0,
                dt: float | None = None, calibration=None, **options) -> tuple[IR, ImportReport]:
    """Import a NIR graph and compile it for ``hardware``; refusals name the NIR node and what
    would fit (see the module docstring)."""
    from neuroemu.nir.importer import import_nir

    hw = hardware if isinstance(hardware, HardwareConfig) else load_hardware(hardware)
    net, report = import_nir(path_or_graph, time_scale, dt, hardware=hw, **options)
    source = str(path_or_graph) if not hasattr(path_or_graph, "nodes") else "NIRGraph"
    try:
        return compile_network(net, hw, source=f"nir: {source}", calibration=calibration), report
    except DelayError as exc:
        node = report.delay_nodes.get(getattr(exc, "projection", ""))
        if node is None:
            raise
        raise NirError(f"NIR node '{node}' (Delay): {hw.name} has no programmable synaptic delays (every spike arrives "
                       "after the chip's fixed latency); run the graph on Brian2 in mode ideal or as-deployed, which "
                       "realise delays, or remove the Delay") from None
    except ResourceError as exc:
        need = report.neurons
        have = hw.neurons.circuits
        factor = (f" The graph's {need} neurons are {need / have:.3g} times the chip's {have} circuits."
                  if need > have else "")
        raise NirError(f"{exc}.{factor}") from None
    except RangeError as exc:
        raise _in_nir_terms(exc, net, report, hw) from None


def _in_nir_terms(exc: RangeError, net: Network, report: ImportReport, hw: HardwareConfig) -> Exception:
    """The compiler's range error about an imported graph, with the node and what would fit."""
    c = report.convention
    parameter = getattr(exc, "parameter", None)
    if parameter is not None:
        pop, i, value = exc.population, exc.neuron, exc.value
        lo, hi = exc.range
        what = _NIR_NAME.get(parameter, parameter)
        if parameter in _TIME:
            if parameter not in report.time_constants_from_file.get(pop, []):
                return exc  # a stand-in at the hardware's extremes: not the graph's
            lo_f, hi_f = time_scale_range(net, report, hw)
            fits = (f"time_scale from {c.time_scale * lo_f:.4g} to {c.time_scale * hi_f:.4g} fits every time "
                    "constant of the graph" if lo_f <= hi_f else
                    "no single time_scale fits every time constant of the graph (their spread exceeds the chip's)")
            return NirError(f"NIR node '{pop}' neuron {i}: {what} is {value:.4g} ms biological at time_scale "
                            f"{c.time_scale:g} ({value / (1000 * c.time_scale):.4g} s of NIR time), outside "
                            f"{hw.name}'s range {lo:.4g}-{hi:.4g} ms: {fits}")
        return NirError(f"NIR node '{pop}' neuron {i}: {what} maps to {value:.4g} mV (V = {c.v_offset:g} mV + "
                        f"{c.v_scale:g} mV x v), outside {hw.name}'s range {lo:.4g} to {hi:.4g} mV: choose v_scale / "
                        "v_offset so that the graph's potentials fall inside")
    excess = getattr(exc, "excess", None)
    if excess is None:
        return exc
    filtered = "tau_syn_exc" in report.time_constants_from_file.get(getattr(exc, "population", ""), [])
    if filtered:  # its synaptic filter comes from the file: slower time, smaller currents
        lo_f, hi_f = time_scale_range(net, report, hw)
        longest = f"; the time constants fit up to time_scale {c.time_scale * hi_f:.4g}" if np.isfinite(hi_f) else ""
        hint = (f"Every synaptic current of an imported graph scales with v_scale / time_scale: v_scale "
                f"{c.v_scale / excess:.4g} mV or less (now {c.v_scale:.4g}), or time_scale "
                f"{c.time_scale * excess:.4g} or more (now {c.time_scale:g}){longest}")
    else:  # NIR gives no synaptic filter there: the chip's shortest carries the charge whatever the time scale
        hint = (f"The currents into this node (no synaptic filter in NIR: the chip's shortest carries each input's "
                f"charge) scale with v_scale: v_scale {c.v_scale / excess:.4g} mV or less (now {c.v_scale:.4g})")
    return NirError(f"{exc}. {hint}")
