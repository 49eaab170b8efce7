"""Pass 2, place: logical neurons onto circuits, sources onto synapse drivers, synapses onto rows.

Model of the substrate (BrainScaleS-2): a hemisphere is a synapse array of ``rows`` x
``columns``; every circuit (column) sees the rows of its hemisphere. A row is excitatory or
inhibitory (set by its driver) and carries the events of the sources routed to its driver;
each synapse listens to one source label (``labels_per_driver`` per driver). A logical neuron
may merge ``k`` adjacent circuits of one hemisphere: it then owns ``k`` synapses per row.

Algorithm (deterministic, first fit):

1. merge size per LIF population: the smallest ``k`` that gives every neuron enough synapse
   slots (``k * rows >= fan-in``); circuits are handed out population by population,
   hemisphere 0 first; a merged neuron never straddles two hemispheres.
2. per hemisphere, every (source, receptor) *input line* with targets in it (sorted by source
   node, receptor) goes on the first row that has the right receptor (or is unused), a free
   label on its driver (or already carries the source), and a free synapse in every target
   neuron's columns on that row. A source's excitatory and inhibitory lines are separate rows.
3. if a line finds no row, the merge size of its most crowded target population grows by
   one and placement restarts.
4. when merging cannot make the network fit (dense random networks: late in the placement no
   row has all of a source's targets free, or one receptor took every row), it is placed again
   from the smallest merge sizes with split lines, as the chip's routing allows (a source's
   events reach several drivers): rows are budgeted per receptor in proportion to its
   synapses, and a line goes on the first row of its receptor (or, within the budget, an
   unused one) that takes the most of its remaining targets, then on the next, until all are
   placed; only when its receptor's rows and the budget are full may it take any unused row
   (merge sizes grow again as in 3). When that fails too, a :class:`ResourceError` names the
   resource, the need and the limit. Networks that fit by 1-3 are placed exactly as before.
"""
from __future__ import annotations

import numpy as np

from neuroemu.errors import ResourceError
from neuroemu.hardware.config import HardwareConfig
from neuroemu.ir.model import RECEPTORS, LogicalNetwork, Placement


class _RowsExhausted(Exception):
    def __init__(self, hemisphere: int, pre: int, receptor: int, target_pops: np.ndarray, free_slots: np.ndarray):
        self.hemisphere, self.pre, self.receptor = hemisphere, pre, receptor
        self.target_pops, self.free_slots = target_pops, free_slots


def _occurrence(keys: np.ndarray) -> np.ndarray:
    """For rows of ``keys`` (n, m), the index of each row among equal rows (0, 1, ...) in input order."""
    if len(keys) == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort(keys.T[::-1])
    sk = keys[order]
    new = np.ones(len(keys), bool)
    new[1:] = np.any(sk[1:] != sk[:-1], axis=1)
    start = np.maximum.accumulate(np.where(new, np.arange(len(keys)), 0))
    occ = np.empty(len(keys), np.int64)
    occ[order] = np.arange(len(keys)) - start
    return occ


def _lif_population(net: LogicalNetwork) -> tuple[np.ndarray, list[str]]:
    """LIF index -> LIF population index, and the LIF population names."""
    pops = net.lif_populations()
    return np.repeat(np.arange(len(pops)), [p.size for p in pops]), [p.name for p in pops]


def _assign_columns(sizes_per_neuron: np.ndarray, hw: HardwareConfig) -> tuple[np.ndarray, np.ndarray] | None:
    cph = hw.neurons.circuits_per_hemisphere
    hemi = np.zeros(len(sizes_per_neuron), np.int16)
    col = np.zeros(len(sizes_per_neuron), np.int16)
    h = c = 0
    for i, k in enumerate(sizes_per_neuron):
        if c + k > cph:
            h, c = h + 1, 0
        if h >= hw.neurons.hemispheres:
            return None
        hemi[i], col[i] = h, c
        c += k
    return hemi, col


def _assign_rows(
    net: LogicalNetwork, hw: HardwareConfig, hemi: np.ndarray, col: np.ndarray, size: np.ndarray,
    lif_pop: np.ndarray, out: dict[str, np.ndarray], split: bool = False,
) -> None:
    """Rows, columns and labels of every synapse: whole lines (step 2 of the module docstring)
    or split lines (step 4)."""
    routes: list[tuple[int, int, int, int]] = []
    for h in range(hw.neurons.hemispheres):
        routes += _assign_hemisphere(net, hw, h, hemi, col, size, lif_pop, out, split)
    routes.sort()
    arr = np.asarray(routes, dtype=np.int64).reshape(-1, 4)
    out["route_node"] = arr[:, 0].astype(np.int32)
    out["route_hemisphere"] = arr[:, 1].astype(np.int16)
    out["route_driver"] = arr[:, 2].astype(np.int16)
    out["route_label"] = arr[:, 3].astype(np.int16)


def _assign_hemisphere(
    net: LogicalNetwork, hw: HardwareConfig, h: int, hemi: np.ndarray, col: np.ndarray, size: np.ndarray,
    lif_pop: np.ndarray, out: dict[str, np.ndarray], split: bool,
) -> list[tuple[int, int, int, int]]:
    """Place the synapses onto hemisphere ``h``: whole lines (``split`` False) or split lines."""
    syn = net.synapses
    lif_index = net.lif_index()
    post = lif_index[syn.post]
    R = hw.synapses.rows_per_hemisphere
    rpd = hw.synapses.rows_per_driver
    D = hw.synapses.drivers_per_hemisphere
    L = hw.synapses.labels_per_driver
    n_nodes = net.n_nodes
    copy = (_occurrence(np.stack([syn.pre, syn.receptor.astype(np.int32), syn.post], axis=1)) if len(syn)
            else np.zeros(0, np.int64))
    routes: list[tuple[int, int, int, int]] = []
    in_h = np.flatnonzero(hemi[post] == h)
    row_receptor = np.full(R, -1, np.int8)
    if len(in_h) == 0:
        out["row_receptor"][h] = row_receptor
        return routes
    n_rec = np.bincount(syn.receptor[in_h], minlength=2)
    budget = np.where(n_rec > 0, np.maximum(1, np.ceil(R * n_rec / n_rec.sum())), 0).astype(np.int64)
    opened = np.zeros(2, np.int64)
    neurons_h = np.flatnonzero(hemi == h)
    local = np.full(len(hemi), -1, np.int64)
    local[neurons_h] = np.arange(len(neurons_h))
    cap = size[neurons_h].astype(np.int32)
    count = np.zeros((R, len(neurons_h)), np.int32)
    row_free = np.full(R, int(cap.sum()), np.int64)  # free synapse slots per row (full rows are skipped)
    driver_of_row = np.arange(R) // rpd
    label_of = np.full((n_nodes, D), -1, np.int32)  # source node -> label on driver, -1 absent
    labels_used = np.zeros(D, np.int32)
    # input lines: (pre, receptor, copy), sorted; synapses of each line
    keys = np.stack([syn.pre[in_h].astype(np.int64), syn.receptor[in_h].astype(np.int64), copy[in_h], post[in_h]],
                    axis=1)
    order = np.lexsort(keys.T[::-1])
    syn_sorted = in_h[order]
    k3 = keys[order][:, :3]
    bounds = np.flatnonzero(np.r_[True, np.any(k3[1:] != k3[:-1], axis=1), True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        s_line = syn_sorted[a:b]
        pre, rec = int(syn.pre[s_line[0]]), int(syn.receptor[s_line[0]])
        targets = local[post[s_line]]
        left = np.arange(len(s_line))  # synapses of the line not placed yet
        while len(left):
            T = targets[left]
            label_ok = ((label_of[pre] >= 0) | (labels_used < L))[driver_of_row]
            if not split:  # the first row with the receptor (or unused) that takes them all
                ok = ((row_receptor == -1) | (row_receptor == rec)) & label_ok & (row_free >= len(T))
                cand = np.flatnonzero(ok)
                if 2 * len(cand) < R:  # mostly full rows (dense networks): look at the others only
                    fits = cand[np.all(count[cand][:, T] < cap[T], axis=1)]
                else:
                    fits = np.flatnonzero(ok & np.all(count[:, T] < cap[T], axis=1))
                r = int(fits[0]) if fits.size else -1
                taken = np.ones(len(T), bool)
            else:  # the first row of the receptor (or a budgeted unused one) that takes the most
                fresh_ok = opened[rec] < budget[rec]
                for allowed in ((row_receptor == rec) | ((row_receptor == -1) & fresh_ok), row_receptor == -1):
                    rows = np.flatnonzero(allowed & label_ok & (row_free > 0))
                    take = count[np.ix_(rows, T)] < cap[T]
                    if take.any():
                        break
                r = -1
                if take.any():
                    k = int(np.argmax(take.sum(axis=1)))
                    r, taken = int(rows[k]), take[k]
            if r < 0:
                free = cap[T] * R - count[:, T].sum(axis=0)
                raise _RowsExhausted(h, pre, rec, lif_pop[neurons_h[T]], free)
            s = s_line[left[taken]]
            T = T[taken]
            d = int(driver_of_row[r])
            if label_of[pre, d] < 0:
                label_of[pre, d] = labels_used[d]
                labels_used[d] += 1
                routes.append((pre, h, d, int(label_of[pre, d])))
            if row_receptor[r] == -1:
                opened[rec] += 1
            row_receptor[r] = rec
            out["syn_row"][s] = r
            out["syn_column"][s] = col[neurons_h[T]] + count[r, T]
            out["syn_label"][s] = label_of[pre, d]
            count[r, T] += 1
            row_free[r] -= len(T)
            left = left[~taken]
    out["row_receptor"][h] = row_receptor
    return routes


def place(net: LogicalNetwork, hw: HardwareConfig) -> Placement:
    """Place ``net`` on the chip described by ``hw``. Raises ResourceError if it does not fit."""
    lif_pop, pop_names = _lif_population(net)
    R = hw.synapses.rows_per_hemisphere
    lif_index = net.lif_index()
    fan_in = (np.bincount(lif_index[net.synapses.post], minlength=net.n_lif) if len(net.synapses)
              else np.zeros(net.n_lif, np.int64))
    first = np.ones(len(pop_names), np.int64)
    for p in range(len(pop_names)):
        need = int(np.ceil(fan_in[lif_pop == p].max(initial=0) / R))
        first[p] = max(1, need)
    try:
        return _place(net, hw, lif_pop, pop_names, fan_in, first.copy(), split=False)
    except ResourceError as exc:  # merging cannot make it fit: split lines, from the smallest neurons
        unsplit = exc
    try:
        return _place(net, hw, lif_pop, pop_names, fan_in, first.copy(), split=True)
    except ResourceError:
        raise unsplit from None  # the reason merging failed says what to change


def _place(net: LogicalNetwork, hw: HardwareConfig, lif_pop: np.ndarray, pop_names: list[str], fan_in: np.ndarray,
           merge: np.ndarray, split: bool) -> Placement:
    """Steps 1-2 (``split`` False, growing merge sizes) or 4 (``split``) of the module docstring."""
    R = hw.synapses.rows_per_hemisphere
    cph = hw.neurons.circuits_per_hemisphere
    while True:
        for p, name in enumerate(pop_names):
            if merge[p] > hw.neurons.max_merge:
                worst = int(fan_in[lif_pop == p].max())
                raise ResourceError(
                    f"population '{name}': a neuron has {worst} input synapses; {hw.name} gives {R} synapse rows per "
                    f"circuit and merges at most {hw.neurons.max_merge} circuits ({R * hw.neurons.max_merge} inputs)"
                )
        size = merge[lif_pop].astype(np.int16)
        circuits = np.cumsum([merge[p] * (lif_pop == p).sum() for p in range(len(pop_names))])
        if circuits[-1] > hw.neurons.circuits:
            p = int(np.argmax(circuits > hw.neurons.circuits))
            n = int((lif_pop == p).sum())
            merged = f" ({n} neurons x {merge[p]} merged circuits)" if merge[p] > 1 else ""
            before = (f"; with the populations before it the network needs {int(circuits[-1])}" if len(pop_names) > 1
                      else "")
            raise ResourceError(
                f"population '{pop_names[p]}' needs {n * merge[p]} neuron circuits{merged}{before}; "
                f"{hw.name} has {hw.neurons.circuits}"
            )
        columns = _assign_columns(size, hw)
        if columns is None:
            raise ResourceError(
                f"the network's {int(circuits[-1])} circuits do not fit the {hw.neurons.hemispheres} hemispheres of "
                f"{cph} circuits of {hw.name}: merged neurons cannot straddle hemispheres"
            )
        hemi, col = columns
        S = len(net.synapses)
        out = {
            "syn_row": np.full(S, -1, np.int16), "syn_column": np.full(S, -1, np.int16),
            "syn_label": np.full(S, -1, np.int16),
            "row_receptor": np.full((hw.neurons.hemispheres, R), -1, np.int8),
        }
        try:
            _assign_rows(net, hw, hemi, col, size, lif_pop, out, split)
        except _RowsExhausted as exc:
            growable = [p for p in np.unique(exc.target_pops) if merge[p] < hw.neurons.max_merge]
            if growable:
                # grow the target population whose neurons have the fewest free synapses left
                free_by_pop = {p: exc.free_slots[exc.target_pops == p].min() for p in growable}
                merge[min(free_by_pop, key=lambda p: (free_by_pop[p], p))] += 1
                continue
            pop_of_node = net.population_of_node()
            src = net.populations[pop_of_node[exc.pre]]
            targets = ", ".join(sorted({pop_names[p] for p in exc.target_pops}))
            raise ResourceError(
                f"hemisphere {exc.hemisphere}: no synapse row left for the {RECEPTORS[exc.receptor]} inputs from "
                f"'{src.name}' neuron {exc.pre - src.first} onto '{targets}': {hw.name} has {R} rows per hemisphere "
                f"({hw.synapses.drivers_per_hemisphere} drivers x {hw.synapses.rows_per_driver} rows, "
                f"{hw.synapses.labels_per_driver} source labels per driver), and merging more circuits "
                f"(at most {hw.neurons.max_merge}) does not help"
            ) from None
        return Placement(
            hemisphere=hemi, column=col, size=size,
            syn_row=out["syn_row"], syn_column=out["syn_column"], syn_label=out["syn_label"],
            row_receptor=out["row_receptor"], route_node=out["route_node"], route_hemisphere=out["route_hemisphere"],
            route_driver=out["route_driver"], route_label=out["route_label"],
        )
