"""One calibration routine per parameter: a measurement setup, a measurement, a search.

Order (and why it differs from calix's): calix calibrates CADC, tau_syn, synapse DAC bias,
threshold, synaptic input strength, leak, tau_mem, reset, leak again -- on the real chip the
parameters interact (the leak potential moves with the leak bias, the synaptic input strength
sets the operating point of the time-constant measurements). Here the routines are ordered by
what each *measurement* needs:

1. ``v_leak``   CADC reads at rest, threshold out of reach (no input, nothing else needed);
2. ``v_thresh`` membrane at the spike times (MADC) while the neuron fires regularly with its
   leak potential far above threshold (independent of every other calibration);
3. ``v_reset``  CADC reads of the membrane clamped during a long refractory period after the
   first spike (independent of every other calibration);
4. ``tau_mem``  free decay after a kick through a fast synapse, at the calibrated leak potential;
5. ``tau_syn_exc`` and ``tau_syn_inh`` (together, exc and inh trials in one run) from the PSP
   shape: needs the calibrated tau_mem (its measured value per circuit);
6. ``tau_refrac`` clamp duration after each spike (MADC), regular firing as in 2; on a config
   with a refractory counter (``realism.refractory``) nothing to search: the refractory time is
   set digitally (counter x clock period, :mod:`neuroemu.models.refractory`), so this step
   records the counter's value and its quantization error and verifies it with one measurement;
7. ``input_gain_exc`` and ``input_gain_inh`` (together) from PSP amplitudes through many rows:
   needs the calibrated tau_mem and tau_syn (their measured values per circuit).

Each routine measures every circuit at once per run and uses the noise-robust search
(:mod:`neuroemu.calibration.search`); measurements average over trials against temporal noise.

Setups that need a particular refractory time (a short one for regular firing, the longest for
the reset potential) set it through the DAC code of ``tau_refrac`` on a config where it is an
analog parameter, and through the setup network's refractory target where a counter makes it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from neuroemu.calibration import measure as M
from neuroemu.calibration.search import Measure, SearchOptions, SearchOutcome, search
from neuroemu.calibration.setups import (
    EXC,
    INH,
    ChipRunner,
    Setup,
    Stimulus,
    build_ir,
    extreme_code,
    extreme_value,
    max_stimulus_rows,
    nominal_codes,
    on_clock,
)
from neuroemu.calibration.targets import CalibrationTarget
from neuroemu.hardware.config import HardwareConfig
from neuroemu.models import dac
from neuroemu.models.psp import kernel_p_array
from neuroemu.models.refractory import refractory_settings

#: trials per run when there is temporal noise (per receptor for the PSP setups)
NOISY_TRIALS = 8
#: PSP sampling: samples per shortest time constant (a coarser step makes the membrane-differenced
#: current larger against the MADC's quantization; the transform is exact at any step)
PSP_SAMPLES_PER_TAU = 20
#: fewest stimulus rows of a PSP setup for the synaptic time constants (one row's synapse
#: deviation would otherwise set the amplitude alone; the shape does not depend on it)
PSP_MIN_ROWS = 16


@dataclass
class Context:
    """State shared by the routines of one calibration: the chip, the targets, the codes and
    measured values found so far (per circuit, circuit order)."""

    hw: HardwareConfig
    targets: CalibrationTarget
    runner: ChipRunner
    options: SearchOptions = field(default_factory=SearchOptions)
    tick: Callable[[], None] | None = None
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    achieved: dict[str, np.ndarray] = field(default_factory=dict)
    outcomes: dict[str, SearchOutcome] = field(default_factory=dict)
    #: parameters set digitally rather than calibrated (``tau_refrac`` on a config with a
    #: refractory counter): what was set, its quantization error and its verification
    digital: dict[str, dict] = field(default_factory=dict)
    _irs: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.hw.neurons.circuits

    def nominal(self, name: str, value: float | None = None) -> float:
        """Nominal code of ``value`` (default: the target) for ``name``."""
        v = self.targets.get(name) if value is None else value
        return float(nominal_codes(self.hw, {name: v})[name][0])

    def code_near(self, name: str, value: float) -> np.ndarray:
        """Per-circuit code for ``value``: from the calibrated code (if ``name`` is calibrated
        already) along the nominal slope, else the nominal code. Setups use it to place a
        potential accurately relative to calibrated ones."""
        if name not in self.codes:
            return np.full(self.n, self.nominal(name, value))
        return dac.code_towards(self.hw.parameters[name], self.hw.dac, self.codes[name], value, self.targets.get(name))

    def base_codes(self, **overrides: float | np.ndarray) -> dict[str, np.ndarray]:
        """Per-circuit codes: calibrated where known, else nominal for the target; then ``overrides``."""
        codes = nominal_codes(self.hw, self.targets.as_dict())
        codes.update({k: v.copy() for k, v in self.codes.items()})
        for name, code in overrides.items():
            codes[name] = np.broadcast_to(np.asarray(code, float), (self.n,)).copy()
        return codes

    @property
    def refractory_counter(self) -> bool:
        """True when the refractory time is set digitally (a counter), not by a DAC code."""
        return self.hw.realism.refractory is not None

    def ir(self, stimulus: Stimulus, refractory_us: float | None = None):
        """The setup network for ``stimulus``; ``refractory_us``: its neurons' refractory target
        (µs) where a counter makes the refractory time (ignored where a DAC code sets it)."""
        targets = self.targets
        if self.refractory_counter and refractory_us is not None:
            targets = targets.replace(tau_refrac=float(refractory_us))
        key = (stimulus.key(), targets.tau_refrac)
        if key not in self._irs:
            self._irs[key] = build_ir(self.hw, targets, stimulus)
        return self._irs[key]

    def setup(self, name: str, stimulus: Stimulus, base_codes: dict[str, np.ndarray], trials: int, duration_us: float,
              dt_us: float, events: list | None = None, refractory_us: float | None = None) -> Setup:
        """A measurement setup; ``refractory_us``: the refractory time it needs where a counter
        makes it (where a DAC code does, ``base_codes`` carry it)."""
        ir, lif_circuit = self.ir(stimulus, refractory_us)
        dt = on_clock(dt_us)
        return Setup(name=name, ir=ir, lif_circuit=lif_circuit, stimulus=stimulus, base_codes=base_codes,
                     trials=trials, duration_us=float(np.ceil(duration_us / dt) * dt), dt_us=dt,
                     events=events or [[] for _ in range(trials)])

    def finish(self, outcomes: dict[str, SearchOutcome]) -> dict[str, SearchOutcome]:
        for name, out in outcomes.items():
            self.codes[name] = out.codes
            self.achieved[name] = out.achieved
            self.outcomes[name] = out
        return outcomes

    def search(self, measure: Measure, names: tuple[str, ...], wide: bool = False) -> dict[str, SearchOutcome]:
        """Search ``names`` in lockstep with ``measure``; ``wide``: a refinement neighbourhood twice
        as wide (for reads quantized by the CADC without dithering noise: averaging over ~4 LSB
        instead of ~2 flattens the staircase)."""
        targets = {n: self.targets.get(n) for n in names}
        options = self.options
        if wide and options.refine and len(options.offsets) > 1:
            m = max(abs(o) for o in options.offsets)
            step = float(np.min(np.diff(np.unique(options.offsets))))
            options = dataclasses.replace(options, offsets=tuple(np.arange(-2 * m, 2 * m + step / 2, step)),
                                          window=2 * options.window)
        return self.finish(search(measure, self.hw, targets, {n: self.nominal(n) for n in names},
                                  {n: tolerance(self.hw, n, targets[n]) for n in names}, options, self.tick))

    @property
    def madc_lo(self) -> float:
        return self.hw.voltage.madc.V_at_code_0

    @property
    def low_potential(self) -> float:
        """A low potential the MADC still reads with margin for mismatch (reset of firing setups)."""
        return self.madc_lo + 0.1

    @property
    def madc_hi(self) -> float:
        return self.hw.voltage.madc.top_V


def tolerance(hw: HardwareConfig, name: str, target: float) -> float:
    """Largest |achieved - target| (map domain: V, or ln for log maps) that counts as success:
    two CADC LSB for potentials, 5 % for time constants and input gains."""
    if name in ("v_leak", "v_reset", "v_thresh"):
        return 2.0 * hw.voltage.cadc.V_per_lsb
    if hw.parameters[name].map == "log":
        return 0.05
    return 0.05 * abs(target)


def _trials(ctx: Context, noisy: int = NOISY_TRIALS) -> int:
    return ctx.runner.trials(noisy)


# --- 1. leak -----------------------------------------------------------------------------------
def calibrate_v_leak(ctx: Context) -> dict[str, SearchOutcome]:
    """Leak potential: mean CADC read at rest (4..24 µs, every 2 µs, all trials), threshold at its
    highest code so the neuron never fires, no input."""
    base = ctx.base_codes(v_thresh=extreme_code(ctx.hw, "v_thresh", high=True))
    setup = ctx.setup("v_leak", Stimulus(), base, _trials(ctx), 24.0, 0.5)

    def measure(codes):
        rec = ctx.runner.run(setup, codes)
        return {"v_leak": M.cadc_potential(rec, 4.0, 24.0, 2.0)}

    return ctx.search(measure, ("v_leak",), wide=not ctx.runner.noisy)


# --- shared: regular firing with the leak potential far above threshold ------------------------------
def _firing_codes(ctx: Context, v_reset: float, v_thresh: float | None, tau_mem: float, tau_refrac: float | None,
                  fixed: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Codes for regular firing: leak at its highest code (far above threshold), the rest nominal
    for the given values (None: calibrated/target code), then ``fixed`` codes."""
    hw = ctx.hw
    over = dict(v_leak=extreme_code(hw, "v_leak", high=True), v_reset=ctx.nominal("v_reset", v_reset),
                tau_mem=ctx.nominal("tau_mem", tau_mem))
    if v_thresh is not None:
        over["v_thresh"] = ctx.nominal("v_thresh", v_thresh)
    if tau_refrac is not None:
        over["tau_refrac"] = ctx.nominal("tau_refrac", tau_refrac)
    over.update(fixed or {})
    return ctx.base_codes(**over)


def _clip_range(hw: HardwareConfig, name: str, value: float) -> float:
    lo, hi = hw.parameters[name].range
    return float(np.clip(value, lo, hi))


def _longest_refractory(hw: HardwareConfig) -> float:
    """The longest refractory time (µs) a setup sets: the DAC's longest where a code sets it, the
    top of the target range where a counter makes it (a setup network must compile)."""
    if hw.realism.refractory is None:
        return extreme_value(hw, "tau_refrac", high=True)
    return hw.parameters["tau_refrac"].range[1]


# --- 2. threshold -------------------------------------------------------------------------------
def calibrate_v_thresh(ctx: Context) -> dict[str, SearchOutcome]:
    """Threshold: membrane at the spike times (MADC traces every ~0.1 µs, extrapolated to the
    spike time) while the neuron fires regularly: leak at its highest code, reset low, short
    refractory time, tau_mem ~10 µs (a gentle approach, so the extrapolation is exact)."""
    hw = ctx.hw
    v_leak_hi = extreme_value(hw, "v_leak", high=True)
    v_reset = ctx.low_potential
    tau_mem = _clip_range(hw, "tau_mem", 10.0)
    tau_ref = _clip_range(hw, "tau_refrac", 0.5)
    base = _firing_codes(ctx, v_reset, None, tau_mem, tau_ref)
    # duration: a few inter-spike intervals at the target (nominal values)
    gap = max(v_leak_hi - ctx.targets.v_thresh, 0.02)
    cycle = tau_ref + tau_mem * math.log(max(v_leak_hi - v_reset, gap * 1.01) / gap)
    # trials average the per-trial threshold jitter; each has several spikes, and the search's
    # neighbourhood fit averages ~10 runs more, so half the usual trials suffice
    setup = ctx.setup("v_thresh", Stimulus(), base, _trials(ctx, NOISY_TRIALS // 2), max(30.0, 4.0 * cycle),
                      tau_mem / 100.0, refractory_us=tau_ref)

    def measure(codes):
        rec = ctx.runner.run(setup, codes)
        return {"v_thresh": M.threshold_at_spikes(rec, ctx.runner.t_res)}

    return ctx.search(measure, ("v_thresh",))


# --- 3. reset -----------------------------------------------------------------------------------
def calibrate_v_reset(ctx: Context) -> dict[str, SearchOutcome]:
    """Reset potential: CADC reads of the membrane clamped during the refractory period after
    the first spike (leak at its highest code above a mid threshold: the neuron spikes at once;
    refractory time at its longest code), once a finite reset conductance has settled it."""
    hw = ctx.hw
    v_leak_hi = extreme_value(hw, "v_leak", high=True)
    v_thr = 0.5 * (hw.parameters["v_reset"].range[1] + v_leak_hi)
    ref_code = extreme_code(hw, "tau_refrac", high=True)
    t_clamp = _longest_refractory(hw)
    base = _firing_codes(ctx, ctx.targets.v_reset, v_thr, _clip_range(hw, "tau_mem", 10.0), None,
                         {"tau_refrac": ref_code})
    t_to = min(20.0, 0.5 * t_clamp)
    # read once the reset conductance has pulled the membrane to the reset (10 of its time constants)
    tau_reset = hw.realism.refractory.reset_tau_us if hw.realism.refractory is not None else 0.0
    t_from = min(max(2.0, 10.0 * tau_reset), 0.25 * t_to)
    every = (t_to - t_from) / 9
    dt = min(0.5, every / 2)
    # no temporal noise reaches a clamped membrane: one trial is the whole truth
    setup = ctx.setup("v_reset", Stimulus(), base, 1, t_to + dt, dt, refractory_us=t_clamp)

    def measure(codes):
        rec = ctx.runner.run(setup, codes)
        return {"v_reset": M.clamped_potential(rec, t_from, t_to, every)}

    return ctx.search(measure, ("v_reset",), wide=True)


# --- 4. membrane time constant ------------------------------------------------------------------
def calibrate_tau_mem(ctx: Context) -> dict[str, SearchOutcome]:
    """Membrane time constant: a kick through a fast excitatory synapse (~8 rows at the largest
    weight, synaptic time constant and input gain at their extreme codes) makes the neuron spike;
    the membrane is clamped to a low reset potential for the refractory time (meanwhile the fast
    synaptic current dies out) and then relaxes freely to the calibrated leak potential. The
    relaxation is a pure exponential: AR(1) fit on the trial-averaged MADC trace."""
    hw = ctx.hw
    tau_t = ctx.targets.tau_mem
    v_l = ctx.targets.v_leak
    v_reset = ctx.low_potential
    v_thr = v_l + 0.1
    tau_fast = extreme_value(hw, "tau_syn_exc", high=False)
    tau_ref = _clip_range(hw, "tau_refrac", max(2.0, 10 * tau_fast))
    per_row = 63.0 * extreme_value(hw, "input_gain_exc", high=True) * tau_fast  # V per row (tau_fast << tau_mem)
    rows = int(np.clip(np.ceil((v_thr - v_l + 0.2) / per_row), 1, max_stimulus_rows(hw, with_reference=False)))
    stim = Stimulus(n_exc=rows, n_inh=rows)
    # threshold 0.1 V above the leak potential, both calibrated: the relaxation never reaches it
    base = ctx.base_codes(v_reset=ctx.code_near("v_reset", v_reset), v_thresh=ctx.code_near("v_thresh", v_thr),
                          tau_refrac=ctx.nominal("tau_refrac", tau_ref),
                          tau_syn_exc=extreme_code(hw, "tau_syn_exc", high=False),
                          input_gain_exc=extreme_code(hw, "input_gain_exc", high=True))
    dt = on_clock(min(max(tau_t / 50.0, 0.008), 0.5))
    i_kick = int(np.ceil(1.0 / dt))
    t_kick = on_clock(i_kick * dt - 0.008)
    # window: from safely after the end of the clamp (spike latency < 0.5 µs; refractory time
    # uncalibrated, +30 % is 5 sigma of its mismatch) over three target time constants
    i0 = int(np.ceil((t_kick + ctx.runner.input_latency_us + 0.5 + 1.3 * tau_ref) / dt))
    i1 = i0 + int(np.ceil(3 * tau_t / dt))
    trials = _trials(ctx, 12)  # the relaxation is smaller than a PSP-free kick: a few more trials
    events = [[(EXC, np.arange(rows), t_kick)] for _ in range(trials)]
    setup = ctx.setup("tau_mem", stim, base, trials, (i1 + 1) * dt, dt, events, refractory_us=tau_ref)

    def measure(codes):
        rec = ctx.runner.run(setup, codes)
        y = rec.madc().mean(axis=0)
        baseline = y[:, 1:i_kick].mean(axis=1)
        return {"tau_mem": M.tau_from_decay(y, rec.dt_us, baseline, i0, min(i1, rec.n_samples), 0.01)}

    return ctx.search(measure, ("tau_mem",))


# --- PSP stimulus shared by tau_syn and the input gains -----------------------------------------------
@dataclass
class _Psp:
    """PSP stimulus of one receptor: weight code, row groups (one group per trial), trials per
    group, and the sampling step and fit window (samples) its time constant asks for."""

    pop: str
    code: float
    groups: list[np.ndarray]
    reps: int
    dt: float
    tau_syn: float

    @property
    def trials(self) -> int:
        return len(self.groups) * self.reps

    @property
    def rows(self) -> int:
        return sum(len(g) for g in self.groups)


def _psp_plan(ctx: Context, pop: str, rows: int, use_all: bool = True) -> _Psp:
    """``rows`` stimulus rows at a weight code that gives a PSP of ~0.15 V at the targets; rows
    split into groups (one group per trial) when all at once would drive the membrane out of
    the MADC's range. ``use_all`` False: only as many rows as that PSP needs (at least
    :data:`PSP_MIN_ROWS`), for measurements that need no averaging over synapses (fewer synapses
    make every run cheaper)."""
    t = ctx.targets
    v_l = t.v_leak
    headroom = (ctx.madc_hi - v_l) if pop == EXC else (v_l - ctx.madc_lo)
    amplitude = min(0.15, 0.4 * headroom)
    tau_s = t.get(f"tau_syn_{pop}")
    gain = t.get(f"input_gain_{pop}")
    tt = np.linspace(0, 8 * max(t.tau_mem, tau_s), 4000)[1:]
    peak = float(kernel_p_array(tt, t.tau_mem, tau_s).max())  # V per V/µs
    w_group = amplitude / peak  # current jump per trial (V/µs)
    if not use_all:
        rows = int(np.clip(max(PSP_MIN_ROWS, np.ceil(w_group / (63.0 * gain))), 1, rows))
    code = float(np.clip(np.floor(w_group / (rows * gain)), 1.0, 63.0))
    per_group = int(np.clip(np.floor(w_group / (code * gain)), 1, rows))
    n_groups = int(np.ceil(rows / per_group))
    groups = [np.arange(g * rows // n_groups, (g + 1) * rows // n_groups) for g in range(n_groups)]
    reps = max(1, int(round(_trials(ctx) / n_groups))) if ctx.runner.noisy else 1
    # >= 50 samples per shortest time constant, <= ~600 samples over the 3-tau_syn window
    dt = on_clock(min(max(min(tau_s, t.tau_mem) / PSP_SAMPLES_PER_TAU, 3 * tau_s / 600.0, 0.008), 0.5))
    return _Psp(pop, code, groups, reps, dt, tau_s)


def _psp_batches(ctx: Context, all_rows: bool = False) -> list[list[_Psp]]:
    """Receptors measured in one run (rows shared between them) when their sampling needs are
    close, else one run each; ``all_rows``: one run per receptor with every row (but the
    reference row) of the hemisphere, for the most averaging over synapses."""
    hw = ctx.hw
    if all_rows:
        rows = max_stimulus_rows(hw, receptors=1)
        return [[_psp_plan(ctx, EXC, rows)], [_psp_plan(ctx, INH, rows)]]
    rows = max_stimulus_rows(hw)
    exc, inh = _psp_plan(ctx, EXC, rows, use_all=False), _psp_plan(ctx, INH, rows, use_all=False)
    return [[exc, inh]] if 0.5 <= exc.dt / inh.dt <= 2.0 else [[exc], [inh]]


@dataclass
class _PspRun:
    setup: Setup
    plans: list[_Psp]
    labels: list[tuple[str, int]]  # (receptor, group) of every trial
    i_event: int
    t_event: float

    def window(self, plan: _Psp) -> int:
        return int(np.ceil(3 * plan.tau_syn / self.setup.dt_us))

    def trials_of(self, pop: str, group: int | None = None) -> np.ndarray:
        return np.array([p == pop and (group is None or g == group) for p, g in self.labels])

    def current(self, ctx: Context, codes: dict[str, np.ndarray], tau_mem: np.ndarray) -> tuple[np.ndarray, float]:
        """Run with ``codes``: membrane-differenced traces (see :func:`M.synaptic_current`) and
        the recording's sample step (µs)."""
        rec = ctx.runner.run(self.setup, codes)
        return M.synaptic_current(rec.madc(), rec.dt_us, tau_mem, self.i_event), rec.dt_us

    def psp(self, u: np.ndarray, plan: _Psp, group: int | None = None) -> np.ndarray:
        """Trial-averaged synaptic current of ``plan``'s trials (of one row group), sign-flipped
        for inhibition: (circuits, window samples)."""
        sign = 1.0 if plan.pop == EXC else -1.0
        return sign * u[self.trials_of(plan.pop, group), :, :self.window(plan)].mean(axis=0)


def _psp_run(ctx: Context, name: str, plans: list[_Psp], base: dict[str, np.ndarray]) -> _PspRun:
    """One setup for the receptors of ``plans``: every group of rows ``reps`` times per receptor,
    one event per trial at ~2 µs."""
    by_pop = {p.pop: p for p in plans}
    stim = Stimulus(n_exc=by_pop[EXC].rows if EXC in by_pop else 0, n_inh=by_pop[INH].rows if INH in by_pop else 0,
                    code_exc=by_pop[EXC].code if EXC in by_pop else 63.0,
                    code_inh=by_pop[INH].code if INH in by_pop else 63.0)
    dt = on_clock(min(p.dt for p in plans))
    i_event = int(np.ceil((2.0 + ctx.runner.input_latency_us) / dt))
    t_event = on_clock(i_event * dt - 0.008 - ctx.runner.input_latency_us)  # it arrives just before sample i_event
    events, labels = [], []
    for plan in plans:
        for g, grp in enumerate(plan.groups):
            for _ in range(plan.reps):
                events.append([(plan.pop, grp, t_event)])
                labels.append((plan.pop, g))
    n_window = max(int(np.ceil(3 * p.tau_syn / dt)) for p in plans)
    setup = ctx.setup(name, stim, base, len(events), (i_event + n_window + 2) * dt, dt, events)
    return _PspRun(setup, plans, labels, i_event, t_event)


def _event_delay(ctx: Context, run: _PspRun) -> float:
    """Time from the (clock-floored) event's arrival (after the input latency) to sample
    ``i_event`` (µs)."""
    t_res = ctx.runner.t_res
    t_ev = np.floor(run.t_event / t_res + 1e-9) * t_res if t_res > 0 else run.t_event
    return run.i_event * run.setup.dt_us - (t_ev + ctx.runner.input_latency_us)


def _measured(ctx: Context, name: str) -> np.ndarray:
    """Best measured value of an already calibrated parameter per circuit (its target where the
    measurement failed)."""
    out = ctx.outcomes.get(name)
    t = ctx.targets.get(name)
    if out is None:
        return np.full(ctx.n, t)
    v = np.where(np.isfinite(out.estimate), out.estimate, out.achieved)
    return np.where(np.isfinite(v) & (v > 0), v, t)


# --- 5. synaptic time constants -----------------------------------------------------------------
def calibrate_tau_syn(ctx: Context) -> dict[str, SearchOutcome]:
    """Excitatory and inhibitory synaptic time constants (in one run when their time scales are
    close): PSPs through many rows, membrane-differenced with each circuit's measured tau_mem
    to the synaptic current, whose exponential decay is fitted; threshold out of reach."""
    out = {}
    base = ctx.base_codes(v_thresh=extreme_code(ctx.hw, "v_thresh", high=True))
    tau_m = _measured(ctx, "tau_mem")
    for plans in _psp_batches(ctx):
        run = _psp_run(ctx, "tau_syn", plans, base)

        def measure(codes, run=run):
            u, dt_us = run.current(ctx, codes, tau_m)
            return {f"tau_syn_{plan.pop}": M.tau_from_current(run.psp(u, plan), dt_us,
                                                               max(2, run.window(plan) // 2))
                    for plan in run.plans}

        out.update(ctx.search(measure, tuple(f"tau_syn_{p.pop}" for p in plans)))
    return out


# --- 6. refractory time -------------------------------------------------------------------------
def _refractory_setup(ctx: Context, v_reset: float | None = None) -> Setup:
    """Regular firing with the refractory time at its target (leak at its highest code, fast
    membrane), sampled for the clamp's end (MADC, ~60 samples per target); reset to ``v_reset``
    (default :attr:`Context.low_potential`), nominal code."""
    hw = ctx.hw
    target = ctx.targets.tau_refrac
    v_leak_hi = extreme_value(hw, "v_leak", high=True)
    v_reset = ctx.low_potential if v_reset is None else v_reset
    v_thr = v_reset + 0.5 * (v_leak_hi - v_reset)
    tau_mem = _clip_range(hw, "tau_mem", 2.0)
    base = _firing_codes(ctx, v_reset, v_thr, tau_mem, None)
    climb = tau_mem * math.log((v_leak_hi - v_reset) / (v_leak_hi - v_thr))
    # sampling: ~60 samples per refractory time (the clamp's end is refined between samples),
    # at least the FPGA clock, at most 0.25 µs (the MADC itself samples every ~34 ns)
    dt = float(np.clip(target / 60.0, 0.008, 0.25))
    duration = max(20.0, 5 * (target + climb))
    return ctx.setup("tau_refrac", Stimulus(), base, _trials(ctx, 2), duration, dt, refractory_us=target)


def calibrate_tau_refrac(ctx: Context) -> dict[str, SearchOutcome]:
    """Refractory time: duration of the clamp after each spike (MADC, ~60 samples per target),
    while the neuron fires regularly (leak at its highest code, fast membrane). With a
    refractory counter: :func:`set_tau_refrac_digitally` (nothing to calibrate)."""
    if ctx.refractory_counter:
        return set_tau_refrac_digitally(ctx)
    setup = _refractory_setup(ctx)

    def measure(codes):
        rec = ctx.runner.run(setup, codes)
        return {"tau_refrac": M.refractory_from_clamps(rec, ctx.runner.t_res)}

    return ctx.search(measure, ("tau_refrac",))


#: largest |measured - set| refractory time (µs) that verifies a counter's setting, or half the
#: sampling step where that is larger: the clamp's end is located to a fraction of a sample (the
#: linear back-extrapolation of the rising membrane is off by up to about a third of one at the
#: coarsest step, 0.25 µs) and the spike to the FPGA clock (8 ns)
REFRACTORY_CHECK_US = 0.025


def set_tau_refrac_digitally(ctx: Context) -> dict[str, SearchOutcome]:
    """The refractory time on a config with a refractory counter: set, not calibrated.

    The counter and clock follow from the target as calix sets them (the same on every circuit:
    no DAC, no mismatch, nothing to search); ``achieved`` and ``uncalibrated`` are that value,
    counter x clock period, whose distance from the target is the quantization error. One run of
    the refractory setup measures the clamp durations (median over spikes and trials): a circuit
    succeeds when its measured time is within :data:`REFRACTORY_CHECK_US` or half a sample of the
    set one (a circuit that never spikes fails, as in the analog search).
    ``ctx.digital["tau_refrac"]`` records the settings, the quantization error and the
    measurement."""
    counter = ctx.hw.realism.refractory
    target = ctx.targets.tau_refrac
    settings = refractory_settings(counter, np.full(ctx.n, target))
    realised = settings.time_us
    # reset well inside the MADC's range (on bss2 5 sigma of twice its reset mismatch): a clamp
    # the MADC reads as its lowest code ends, to it, only when the rising membrane enters its range
    setup = _refractory_setup(ctx, v_reset=ctx.madc_lo + 0.25)
    measured = M.refractory_from_clamps(ctx.runner.run(setup), ctx.runner.t_res, statistic="median")
    if ctx.tick is not None:
        ctx.tick()
    check = max(REFRACTORY_CHECK_US, 0.5 * setup.dt_us)
    with np.errstate(invalid="ignore"):
        success = np.isfinite(measured) & (np.abs(measured - realised) <= check)
    finite = measured[np.isfinite(measured)]
    ctx.digital["tau_refrac"] = {
        "target_us": float(target), "counter": int(settings.counter[0]), "clock_scale": int(settings.scale_fast),
        "clock_base_MHz": float(counter.clock_base_MHz), "period_us": float(settings.period_fast_us),
        "set_us": float(realised[0]), "quantization_error_us": float(realised[0] - target),
        "measured_mean_us": float(finite.mean()) if finite.size else float("nan"),
        "measured_max_deviation_us": float(np.abs(finite - realised[0]).max()) if finite.size else float("nan"),
        "check_us": check, "verified": int(success.sum()),
    }
    nominal = ctx.nominal("tau_refrac")
    outcome = SearchOutcome(codes=np.full(ctx.n, nominal), achieved=realised.copy(), estimate=realised.copy(),
                            uncalibrated=realised.copy(), nominal_code=nominal, success=success, runs=1)
    return ctx.finish({"tau_refrac": outcome})


# --- 7. synaptic input gains --------------------------------------------------------------------
def calibrate_input_gain(ctx: Context) -> dict[str, SearchOutcome]:
    """Excitatory and inhibitory input gains, one run per receptor: PSP amplitude (current jump
    per weight code, summed over every row of the hemisphere but one, so per-synapse
    deviations average out) from the
    membrane-differenced traces and each circuit's measured tau_mem and tau_syn."""
    out = {}
    base = ctx.base_codes(v_thresh=extreme_code(ctx.hw, "v_thresh", high=True))
    tau_m = _measured(ctx, "tau_mem")
    for plans in _psp_batches(ctx, all_rows=True):
        run = _psp_run(ctx, "input_gain", plans, base)
        delta = _event_delay(ctx, run)

        def measure(codes, run=run, delta=delta):
            u, dt_us = run.current(ctx, codes, tau_m)
            res = {}
            for plan in run.plans:
                tau_s = _measured(ctx, f"tau_syn_{plan.pop}")
                total = np.zeros(ctx.n)
                for g in range(len(plan.groups)):
                    total += M.current_amplitude(run.psp(u, plan, g), dt_us, tau_m, tau_s, delta)
                res[f"input_gain_{plan.pop}"] = total / (plan.rows * plan.code)
            return res

        out.update(ctx.search(measure, tuple(f"input_gain_{p.pop}" for p in plans)))
    return out


#: the routines in calibration order: (stage label, parameters, routine)
ROUTINES: tuple[tuple[str, tuple[str, ...], Callable[[Context], dict[str, SearchOutcome]]], ...] = (
    ("leak potential", ("v_leak",), calibrate_v_leak),
    ("threshold", ("v_thresh",), calibrate_v_thresh),
    ("reset potential", ("v_reset",), calibrate_v_reset),
    ("membrane time constant", ("tau_mem",), calibrate_tau_mem),
    ("synaptic time constants", ("tau_syn_exc", "tau_syn_inh"), calibrate_tau_syn),
    ("refractory time", ("tau_refrac",), calibrate_tau_refrac),
    ("synaptic input gains", ("input_gain_exc", "input_gain_inh"), calibrate_input_gain),
)
