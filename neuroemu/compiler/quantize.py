"""Pass 3, quantize: weights to unsigned 6-bit codes; the sign comes from the row's receptor.

Scale choice (documented): weights into one (post population, receptor) share one scale,
``max |w| / levels`` nA per code (``levels`` = 63 for 6 bits), so the strongest weight gets the
largest code. The scale is shared because on the chip it is the synaptic input gain of the
target circuits (one per receptor), which calibration sets per population. It is bounded by
what the gain DAC reaches (``input_gain_*`` range, divided among merged circuits): a smaller
needed scale is raised to the minimum (codes then use less of their range), a larger one is
an error naming the projection, the weight and the limit. Without weight quantization (the
ideal config) codes are ``|w| / scale`` exactly.
"""
from __future__ import annotations

import numpy as np

from neuroemu.errors import RangeError
from neuroemu.hardware.config import HardwareConfig
from neuroemu.ir.model import INH, RECEPTORS, LogicalNetwork, Placement, WeightQuantization

#: Scale reference for continuous weights: as if 6-bit, so ideal and bss2 share gain targets.
_CONTINUOUS_LEVELS = 63.0


def levels(hw: HardwareConfig) -> float:
    bits = hw.synapses.weight_bits
    return float(2**bits - 1) if bits is not None else _CONTINUOUS_LEVELS


def scale_limits(hw: HardwareConfig, receptor: int, cm_nF: np.ndarray,
                 merge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) scale in nA per code realisable per neuron, from the input gain range."""
    lo, hi = hw.parameters[f"input_gain_{RECEPTORS[receptor]}"].range
    return hw.bio_current_nA(lo / merge, cm_nF), hw.bio_current_nA(hi / merge, cm_nF)


def quantize(
    net: LogicalNetwork, placement: Placement, hw: HardwareConfig,
    fixed_scales: dict[tuple[str, int], float] | None = None
) -> WeightQuantization:
    """Quantize every synapse weight. ``fixed_scales`` ((population, receptor) -> nA per code)
    overrides the chosen scale, e.g. with a calibration's measured gains; larger weights saturate."""
    syn = net.synapses
    lif_index = net.lif_index()
    post_lif = lif_index[syn.post]
    pop_of_lif = np.repeat(np.arange(len(net.lif_populations())), [p.size for p in net.lif_populations()])
    lif_pops = net.lif_populations()
    n_levels = levels(hw)
    # groups: (lif population, receptor)
    gkey = pop_of_lif[post_lif].astype(np.int64) * 2 + syn.receptor
    group_ids, group = np.unique(gkey, return_inverse=True)
    group = group.astype(np.int32)
    scales = np.zeros(len(group_ids))
    for g, key in enumerate(group_ids):
        p, rec = divmod(int(key), 2)
        members = group == g
        neurons = np.arange(lif_pops[p].lif_first, lif_pops[p].lif_first + lif_pops[p].size)
        smin, smax = scale_limits(hw, rec, net.params.cm[neurons], placement.size[neurons].astype(float))
        wmax = float(np.abs(syn.weight[members]).max(initial=0.0))
        if fixed_scales is not None and (lif_pops[p].name, rec) in fixed_scales:
            scales[g] = fixed_scales[(lif_pops[p].name, rec)]
            continue
        need = wmax / n_levels
        if need > smax.min() * (1 + 1e-12):
            proj = net.projections[int(syn.projection[members][np.argmax(np.abs(syn.weight[members]))])]
            err = RangeError(
                f"projection '{proj.name}': weight {wmax:.4g} nA ({RECEPTORS[rec]}) into '{lif_pops[p].name}' needs "
                f"{need:.4g} nA per weight code; {hw.name}'s synaptic input gain reaches at most {smax.min():.4g} nA "
                f"per code there (largest weight {smax.min() * n_levels:.4g} nA)"
            )
            err.excess = need / float(smax.min())  # how many times too large (for hints, e.g. NIR's time_scale)
            err.population = lif_pops[p].name
            raise err
        scales[g] = max(need, float(smin.max()))
    raw = np.abs(syn.weight) / np.where(scales[group] > 0, scales[group], 1.0)
    if hw.synapses.weight_bits is not None:
        code = np.clip(np.rint(raw), 0.0, n_levels)
    else:
        code = raw
    deployed = np.where(syn.receptor == INH, -1.0, 1.0) * code * scales[group]
    err = deployed - syn.weight
    P = len(net.projections)
    rms = np.zeros(P)
    mx = np.zeros(P)
    rel = np.zeros(P)
    zeroed = np.zeros(P, np.int64)
    saturated = np.zeros(P, np.int64)
    for i, proj in enumerate(net.projections):
        s = slice(proj.first, proj.first + proj.count)
        if proj.count == 0:
            continue
        e, w = err[s], syn.weight[s]
        rms[i] = float(np.sqrt(np.mean(e**2)))
        mx[i] = float(np.abs(e).max())
        ref = float(np.sqrt(np.mean(w**2)))
        rel[i] = rms[i] / ref if ref > 0 else 0.0
        zeroed[i] = int(np.sum((code[s] == 0) & (w != 0)))
        saturated[i] = int(np.sum(raw[s] > n_levels + 0.5)) if hw.synapses.weight_bits is not None else 0
    pops_names = [lif_pops[int(k) // 2].name for k in group_ids]
    return WeightQuantization(
        code=code.astype(np.float64), group=group, group_population=pops_names,
        group_receptor=(group_ids % 2).astype(np.int8), group_scale=scales,
        rms_error=rms, max_error=mx, relative_rms_error=rel, zeroed=zeroed, saturated=saturated,
    )
