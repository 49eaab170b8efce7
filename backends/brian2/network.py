"""The Brian2 network of an IR: the LIF model as Brian2 equations, B trial copies side by side.

Model (per LIF neuron, biological units, as Brian2 equations with units)::

    dv/dt     = (v_inf - v)/tau_mem + (I_exc + I_inh)/C   : volt  (unless refractory)
    dI_exc/dt = -I_exc/tau_syn_exc                          : amp
    dI_inh/dt = -I_inh/tau_syn_inh                          : amp

with threshold ``v >= v_thresh``, reset ``v = v_reset`` and Brian2's refractoriness (``v`` held
while refractory, the currents keep decaying). A spike of weight w (nA, signed) adds w to the
current of its receptor. ``v_inf = v_rest + i_offset tau_mem / C``
(:meth:`~neuroemu.ir.model.NeuronParams.v_inf`, a per-neuron constant) is where the membrane
relaxes to: a constant bias current is a shift of the leak potential. Initial v = v_inf, unless a
run continues from a state (``initial``: v, currents and ``lastspike`` of every copy).

Integration: Brian2's ``rk4`` state updater. Brian2's ``exact`` (``linear``) updater solves the
equations symbolically with the time constants as free symbols; its solution divides by
``tau_syn - tau_mem`` and gives NaN for tau_mem == tau_syn, the default of bss2 (10 µs = 10 ms)
and the TTFS setting. ``rk4`` needs no closed form and treats equal time constants like any
others. On this linear system one rk4 step is the 4th-order Taylor polynomial of the exact
propagator, so between events the error of v after any number of steps is below
``(dt/tau_min)^4`` times the size of the synaptic deflection (tau_min: the neuron's smallest
time constant; measured ~0.04 of that bound: 1.3e-9 mV on a 3.7 mV PSP at dt = 0.1 ms,
tau = 10 ms, and 1e-4 of that at dt = 0.01 ms). ``exponential_euler`` would also work for
equal time constants but is first order (1.8e-2 mV on the same PSP at dt = 0.1 ms).

Everything happens on Brian2's grid of ``dt`` (nothing in here is a closed form of the model):

* an input spike at time s acts (its current jumps) at the first grid point at or after s,
  ``ceil(s/dt) dt``: late by less than dt (on the grid: not at all). The generator channels
  (see :mod:`.inputs`) fire in the ``before_groups`` slot of the step starting there;
* the threshold is checked on the grid: a crossing at t* is seen at the first grid point
  t_b >= t*, which is the spike time reported (Brian2's ``SpikeMonitor`` records the start of
  the step, t_b - dt; we add dt). The spike acts on its targets at t_b (``synapses`` slot of the
  same step), so a LIF -> LIF spike has the same rule as an input;
* refractoriness: ``refractory = tau_refrac + dt`` counted by Brian2 from the step start, so v is
  held at v_reset from t_b until t_b + tau_refrac (tau_refrac rounded down to the grid);
* synaptic delays d act ``round(d/dt)`` steps after the spike (Brian2's spike queue; ties to even).

Agreement with the exact solution of the model (closed forms), as functions of dt (tested at
dt = 0.01 and 0.1 ms in ``tests/backends/test_brian2_backend.py``):

* v at every grid point within ``(dt/tau_min)^4`` x the synaptic deflection, for the inputs at
  the times where they act;
* every spike time t_b in [t*, t* + dt), t* the exact crossing for the inputs where they act
  (= their own times when they are on the grid), up to the voltage error over the slope at the
  crossing;
* inputs off the grid act up to dt late, which moves a spike by up to about dt more: within
  2 dt of the crossing for the inputs' own times (less than dt when they all share one shift);
* a crossing during which v stays above threshold for less than dt can be missed (grazing);
* through a chain of k neurons the lags add (about (k + 1) dt / 2 on average; not a bound: a late
  input moves a crossing by more than its lag where v rises slowly); recurrent networks amplify
  them (see ``tests/test_cross_validation.py``).

At the default dt = 0.01 ms: spike times late by < 0.01 ms (on-grid inputs), < 0.02 ms otherwise.

The chip's limits (chip-replay only; compiled only into networks that have them, see
:func:`lif_equations`; all off: the equations above):

* rails: ``v = clip(v, v_lo, v_hi)`` after every step (a ``run_regularly`` after the state update
  and the noise, before the threshold). While the exact V is held at the lower rail the clipped
  grid value is exactly v_lo (the free step goes below, the clip returns it); the exact V leaves
  the rail at t_rel, where the current lifts it (``(v_inf - v_lo)/tau_mem + I/C = 0``). A free
  step from a grid point t_k on the rail ends above it when t_k >= t_rel - dt/2 (to first order
  in dt), so the clipped V leaves the rail at the first such grid point t_g, within dt/2 of
  t_rel, and is low by ``v'' (t_g - t_rel)^2 / 2 <= v'' dt^2 / 8`` from there,
  ``v'' = |v_inf - v_lo| / (tau_mem tau_syn)`` being the curvature of the free path at the release;
  the difference decays with tau_mem (the release time resolved to dt/2: O(dt) in time, O(dt^2)
  in V). A dip below the rail shorter than a step is not seen (its depth is O(dt^2) too);
* saturating synaptic input: ``I_exc += w (1 - I_exc/I_max)``, ``I_inh += w (1 + I_inh/I_max)``
  (:func:`on_pre`) at the grid point where the event acts; between events the same decay;
* finite reset conductance: the reset sets v to the threshold and, while refractory,
  ``dv/dt = (v_reset - v)/tau_reset`` instead of being held (the leak and the synaptic input do
  not act on v; the currents evolve as usual): at the end of the refractory period (tau_refrac
  rounded down to the grid, from the grid point t_b of the spike) ``v = v_reset + (v_thresh -
  v_reset) e^{-tau_refrac/tau_reset}`` within the rk4 bound with tau_min = tau_reset, and the
  neuron is free from there;
* latencies are input times and synaptic delays (:mod:`.backend`).

Noise (chip-replay only). Membrane noise, if any, is an Ornstein-Uhlenbeck increment
``n_step randn()`` of v per free step (``n_step = sigma sqrt(1 - e^{-2 dt/tau_mem})``, stationary
std sigma: the replayed chip's model, as data), after the state update; threshold jitter is an
offset written into ``v_thresh`` of every copy before each batch.

Trials. B trials run as B independent copies inside one network (neuron i of trial k is
k * n_lif + i, channel c of trial k is k * C + c, block-diagonal synapses), built and compiled
once, stored, and restored for every batch of B trials with a new spike table.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroemu.backends.brian2.codegen import canonical_executable
from neuroemu.backends.brian2.inputs import STEP_EPS, ChannelLayout
from neuroemu.ir.model import NeuronParams

#: the model, Brian2 equations with units (parameters per neuron, constant during a run)
LIF_EQUATIONS = """
dv/dt = (v_inf - v)/tau_mem + (I_exc + I_inh)/C : volt (unless refractory)
dI_exc/dt = -I_exc/tau_syn_exc : amp
dI_inh/dt = -I_inh/tau_syn_inh : amp
v_inf : volt (constant)
v_reset : volt (constant)
v_thresh : volt (constant)
C : farad (constant)
tau_mem : second (constant)
tau_syn_exc : second (constant)
tau_syn_inh : second (constant)
tau_refrac : second (constant)
n_step : volt (constant)
"""
#: the membrane equation with a finite reset conductance (chip-replay, ``reset_tau_ms`` > 0): while
#: refractory, v relaxes to v_reset with tau_reset (leak and synaptic input do not act on it);
#: ``not_refractory`` is constant over each step (Brian2 sets it before the step's update)
_V_FINITE_RESET = ("dv/dt = int(not_refractory)*((v_inf - v)/tau_mem + (I_exc + I_inh)/C)"
                   " + (1 - int(not_refractory))*(v_reset - v)/tau_reset : volt")
#: Brian2's state updater for :data:`LIF_EQUATIONS` (see the module docstring)
METHOD = "rk4"
#: v held from the grid point of the spike until tau_refrac later (see the module docstring)
REFRACTORY = "tau_refrac + dt"
#: membrane noise (compiled only into networks that have it): an OU increment while free
_NOISE = "v += int(not_refractory)*n_step*randn()"
#: voltage rails (compiled only into networks that have them): v clipped after every step
_RAILS = "v = clip(v, v_lo, v_hi)"

#: Brian2's "never spiked" (s): its own initial ``lastspike``
NEVER_S = -1e4

#: LIF variables that carry a run's state into the next (SI; ``lastspike`` in s since the run's start)
STATE_VARIABLES = ("v", "I_exc", "I_inh", "lastspike")


def lif_equations(finite_reset: bool = False, rails: bool = False, saturation: bool = False) -> str:
    """The Brian2 equations of the LIF neurons: :data:`LIF_EQUATIONS` with the chip's limits that
    chip-replay has in force. ``finite_reset``: the membrane equation :data:`_V_FINITE_RESET` and the
    constant ``tau_reset`` (s); ``rails``: the constants ``v_lo``, ``v_hi`` (V); ``saturation``:
    the constant ``I_max`` (A, each receptor's bound). All off: exactly :data:`LIF_EQUATIONS`."""
    eqs = LIF_EQUATIONS
    if finite_reset:
        first = LIF_EQUATIONS.strip().splitlines()[0]
        eqs = eqs.replace(first, _V_FINITE_RESET) + "tau_reset : second (constant)\n"
    if rails:
        eqs += "v_lo : volt (constant)\nv_hi : volt (constant)\n"
    if saturation:
        eqs += "I_max : amp (constant)\n"
    return eqs


def on_pre(receptor: str, saturation: bool) -> str:
    """What a spike of weight ``w`` (A, signed as its receptor) does to the current of ``receptor``
    (``exc``, ``inh``). Linear: I += w. Saturating (bound I_max, :func:`lif_equations`):
    I <- I + w (1 - |I|/I_max), i.e. ``I_exc += w (1 - I_exc/I_max)`` (I_exc >= 0, w >= 0) and
    ``I_inh += w (1 + I_inh/I_max)`` (I_inh <= 0, w <= 0). Then 1 - |I|/I_max is multiplied by
    1 - |w|/I_max at every event, so events at one instant compose in any order to
    1 - |I|/I_max = (1 - |I_0|/I_max) prod_k (1 - |w_k|/I_max)."""
    if not saturation:
        return f"I_{receptor}_post += w"
    sign = "-" if receptor == "exc" else "+"
    return f"I_{receptor}_post += w*(1 {sign} I_{receptor}_post/I_max_post)"


@dataclass
class NetworkSpec:
    """What one Brian2 network simulates, biological units (ms, mV, nA, nF)."""

    params: NeuronParams  # per LIF neuron
    dead: np.ndarray  # bool per LIF neuron: never spikes
    syn_pre: np.ndarray  # global (or virtual, see .inputs.SourceDelays) node id per synapse
    syn_post: np.ndarray  # LIF index per synapse
    syn_weight: np.ndarray  # nA, signed
    syn_receptor: np.ndarray  # 0 exc, 1 inh
    syn_delay: np.ndarray  # ms per synapse (input synapses: 0, their delays are in the channel times)
    lif_index: np.ndarray  # (virtual) node id -> LIF index, -1 for spike sources
    layout: ChannelLayout  # input channels of one trial
    trials: int  # trial copies side by side
    dt_ms: float
    record_lif: np.ndarray  # LIF indices whose V is recorded (every trial)
    membrane_noise_mV: float = 0.0  # stationary std of the injected membrane noise (0: none)
    rails_mV: tuple[float, float] | None = None  # (low, high) mV v cannot leave (None: unbounded)
    max_current_nA: np.ndarray | None = None  # per LIF neuron: each receptor's current bound (None: linear)
    reset_tau_ms: float = 0.0  # time constant of the finite reset conductance (0: instant reset)

    @property
    def n_lif(self) -> int:
        return len(self.params.tau_mem)

    def delay_steps(self) -> np.ndarray:
        """Per synapse: its delay in steps of dt, rounded to the nearest (ties to even)."""
        return np.rint(np.asarray(self.syn_delay, float) / self.dt_ms).astype(np.int64)

    def structure_key(self) -> tuple:
        """What a built network is made of (networks with the same key differ in values only)."""
        arrays = (self.syn_pre, self.syn_post, self.syn_receptor, self.delay_steps(), self.lif_index, self.record_lif)
        return (self.n_lif, self.trials, self.dt_ms, self.membrane_noise_mV > 0, *self.limits(), self.layout.key(),
                *(np.ascontiguousarray(a).tobytes() for a in arrays))

    def limits(self) -> tuple[bool, bool, bool]:
        """Which of the chip's limits the equations have: (finite reset, rails, saturation)."""
        return self.reset_tau_ms > 0, self.rails_mV is not None, self.max_current_nA is not None


@dataclass
class BatchOutput:
    """Spikes and traces of one batch of trial copies."""

    neuron: np.ndarray  # index into the copies (trial copy * n_lif + LIF index)
    time_ms: np.ndarray  # the grid point at which each spike was seen (step start + dt)
    times_ms: np.ndarray  # trace sample times
    v_mV: np.ndarray  # (copies, recorded, samples)
    final: dict[str, np.ndarray]  # STATE_VARIABLES at the end, SI units, (copies, n_lif); lastspike since the start


class Brian2Network:
    """One built Brian2 network (compiled on first run, reused for every batch)."""

    def __init__(self, spec: NetworkSpec):
        import brian2 as b2

        self.spec = spec
        self._table = np.full(1, np.inf)
        B, n, C = spec.trials, spec.n_lif, spec.layout.n
        self.clock = b2.Clock(dt=spec.dt_ms * 1e-3 * b2.second, name="neuroemu_clock")

        # --- LIF neurons, B copies (values: set_values) ----------------------------------------
        finite_reset, rails, saturation = spec.limits()
        # finite reset: the membrane starts its relaxation to v_reset at the threshold
        lif = b2.NeuronGroup(B * n, lif_equations(finite_reset, rails, saturation), threshold="v >= v_thresh",
                             reset="v = v_thresh" if finite_reset else "v = v_reset", refractory=REFRACTORY,
                             method=METHOD, clock=self.clock, name="neuroemu_lif", namespace={})
        self._weights: list = []  # (Synapses, function of a spec giving the weights (nA) of one copy)
        objects: list = [lif]
        if spec.membrane_noise_mV > 0:
            noise = lif.run_regularly(_NOISE, when="groups", order=1, name="neuroemu_lif_noise")
            objects.append(noise)
        if rails:  # after the update and the noise, before the threshold
            objects.append(lif.run_regularly(_RAILS, when="groups", order=2, name="neuroemu_lif_rails"))
        self.lif = lif

        # --- input channels, B copies: times from a table swapped per batch -------------------
        # a channel fires in the step starting at the first grid point at or after its next time
        table_fn = self._table_function(b2)
        gen = b2.NeuronGroup(max(B * C, 1), "next_t : second\nptr : integer",
                             threshold=f"next_t <= t + {STEP_EPS}*dt",
                             reset="ptr += 1\nnext_t = neuroemu_spike_table(ptr)*second", clock=self.clock,
                             name="neuroemu_inputs", namespace={"neuroemu_spike_table": table_fn})
        gen.next_t_ = np.inf
        gen.thresholder["spike"].when = "before_groups"
        gen.thresholder["spike"].order = 0
        self.gen = gen
        objects.append(gen)

        # --- synapses: (inputs | LIF) x (exc | inh), block-diagonal over the copies -----------
        lif_pre = spec.lif_index[spec.syn_pre]
        steps = spec.delay_steps()
        for source in ("inputs", "lif"):
            for rec, rname in ((0, "exc"), (1, "inh")):
                sel = (spec.syn_receptor == rec) & ((lif_pre < 0) if source == "inputs" else (lif_pre >= 0))
                if not np.any(sel):
                    continue
                if source == "inputs":
                    i1, j1, _ = _channel_synapses(spec.layout, spec.syn_pre[sel], spec.syn_post[sel],
                                                  spec.syn_weight[sel])
                    def weights(sp: NetworkSpec, sel: np.ndarray = sel) -> np.ndarray:
                        return _channel_synapses(sp.layout, sp.syn_pre[sel], sp.syn_post[sel], sp.syn_weight[sel])[2]
                    stride, pre_group = C, gen
                else:
                    i1, j1 = lif_pre[sel], spec.syn_post[sel]
                    def weights(sp: NetworkSpec, sel: np.ndarray = sel) -> np.ndarray:
                        return sp.syn_weight[sel]
                    stride, pre_group = n, lif
                S = b2.Synapses(pre_group, lif, "w : amp (constant)", on_pre=on_pre(rname, saturation),
                                clock=self.clock, name=f"neuroemu_{source}_{rname}", namespace={})
                offs = np.repeat(np.arange(B, dtype=np.int64), len(i1))
                S.connect(i=np.tile(i1, B) + offs * stride, j=np.tile(j1, B) + offs * n)
                self._weights.append((S, weights))
                if source == "inputs":  # act before the step's update: at the grid point where the step starts
                    S.pre.when, S.pre.order = "before_groups", 1
                elif np.any(steps[sel] > 0):
                    S.delay_ = np.tile(steps[sel] * spec.dt_ms * 1e-3, B)
                objects.append(S)

        # --- monitors ---------------------------------------------------------------------
        self.spikes = b2.SpikeMonitor(lif, record=True, name="neuroemu_spikes")
        objects.append(self.spikes)
        rec = (np.arange(B)[:, None] * n + spec.record_lif[None, :]).reshape(-1)
        self.trace = None
        if len(rec):
            self.trace = b2.StateMonitor(lif, "v", record=rec, when="start", clock=self.clock, name="neuroemu_trace")
            objects.append(self.trace)
        self.net = b2.Network(*objects, name="neuroemu_network")
        self._stored = False
        self.set_values(spec)

    def set_values(self, spec: NetworkSpec) -> None:
        """Neuron parameters and synaptic weights of ``spec`` (a spec of the same structure:
        same synapses, channels, copies, step), and the initial state from them. The compiled
        network stays: a reconfigured network needs no new code."""
        if self._stored:  # back to the pristine network (t = 0, empty monitors), then the new values
            self.net.restore("initial")
        B = spec.trials
        self.spec = spec
        p = spec.params
        dt_s = spec.dt_ms * 1e-3
        rep = lambda x: np.tile(np.asarray(x, float), B)  # noqa: E731  (per LIF -> per copy)
        tm = p.tau_mem * 1e-3
        v_inf = p.v_inf() * 1e-3  # V: where v relaxes to (the initial v)
        values = {
            "v_inf": v_inf, "v_reset": p.v_reset * 1e-3, "v_thresh": np.where(spec.dead, np.inf, p.v_thresh * 1e-3),
            "C": p.cm * 1e-9, "tau_mem": tm, "tau_syn_exc": p.tau_syn_exc * 1e-3, "tau_syn_inh": p.tau_syn_inh * 1e-3,
            "tau_refrac": p.tau_refrac * 1e-3, "v": v_inf, "I_exc": np.zeros(spec.n_lif), "I_inh": np.zeros(spec.n_lif),
            "lastspike": np.full(spec.n_lif, NEVER_S),
            "n_step": spec.membrane_noise_mV * 1e-3 * np.sqrt(-np.expm1(-2.0 * dt_s / tm)),
        }
        if spec.rails_mV is not None:
            values["v_lo"] = np.full(spec.n_lif, spec.rails_mV[0] * 1e-3)
            values["v_hi"] = np.full(spec.n_lif, spec.rails_mV[1] * 1e-3)
        if spec.max_current_nA is not None:
            values["I_max"] = np.asarray(spec.max_current_nA, float) * 1e-9
        if spec.reset_tau_ms > 0:
            values["tau_reset"] = np.full(spec.n_lif, spec.reset_tau_ms * 1e-3)
        self._v_thresh = rep(values["v_thresh"])
        for name, val in values.items():
            setattr(self.lif, name + "_", rep(val))  # SI values, no unit checks needed
        for S, weights in self._weights:
            S.w_ = np.tile(np.asarray(weights(spec), float) * 1e-9, B)
        self.net.store("initial")
        self._stored = True

    def _table_function(self, b2):
        """``neuroemu_spike_table(k)``: entry k of the current spike table (s). The table is read
        from the code object's namespace at every run, so swapping it needs no recompilation."""
        owner = self

        def table_py(k):
            return owner._table[k]

        fn = b2.Function(table_py, arg_units=[1], return_unit=1, arg_types=["integer"], return_type="float",
                         auto_vectorise=False)
        code = """
        cdef double neuroemu_spike_table(int k):
            global _namespaceneuroemu_spike_table_values
            return _namespaceneuroemu_spike_table_values[k]
        """
        fn.implementations.add_dynamic_implementation(
            "cython", code=lambda _owner: code, namespace=lambda _owner: {"neuroemu_spike_table_values": owner._table},
            name="neuroemu_spike_table")
        fn.implementations.add_numpy_implementation(table_py)
        return fn

    def run(self, table: np.ndarray, start: np.ndarray, duration_ms: float, thr_offset_mV: np.ndarray | None = None,
            noise_seed: int = 0, initial: dict[str, np.ndarray] | None = None) -> BatchOutput:
        """Run one batch from the initial state (or ``initial``: :data:`STATE_VARIABLES`, SI,
        (copies, n_lif), ``lastspike`` relative to this run's start); ``table``/``start`` from
        :func:`.inputs.spike_table`; ``thr_offset_mV`` (copies, n_lif): threshold offsets of this
        batch (jitter); ``noise_seed`` seeds Brian2's ``randn`` (membrane noise; numpy's global
        state is left as it was)."""
        import brian2 as b2

        spec = self.spec
        self.net.restore("initial")
        if initial is not None:
            for name in STATE_VARIABLES:
                setattr(self.lif, name + "_", np.asarray(initial[name], float).reshape(-1))
        if thr_offset_mV is not None:
            self.lif.v_thresh_ = self._v_thresh + np.asarray(thr_offset_mV, float).reshape(-1) * 1e-3
        np_state = None
        if spec.membrane_noise_mV > 0:
            np_state = np.random.get_state()
            b2.seed(int(noise_seed))
        self._table = np.ascontiguousarray(table, dtype=np.float64)
        if len(start):
            self.gen.ptr_ = start
            self.gen.next_t_ = self._table[start]
        n_steps = int(np.ceil(duration_ms / spec.dt_ms - 1e-9))
        try:
            with canonical_executable():  # stable compiled-module names (see .codegen)
                self.net.run(n_steps * spec.dt_ms * b2.ms, namespace={})
        finally:
            if np_state is not None:
                np.random.set_state(np_state)
        neuron = np.asarray(self.spikes.i[:], np.int64)
        steps = np.rint(np.asarray(self.spikes.t_[:], float) * 1e3 / spec.dt_ms)
        t_ms = (steps + 1) * spec.dt_ms  # seen at the end of the step
        if self.trace is not None:
            v = np.asarray(self.trace.v_[:], float) * 1e3  # (copies * recorded, samples)
            v = v.reshape(spec.trials, len(spec.record_lif), -1)
            times = np.asarray(self.trace.t_[:], float) * 1e3
        else:
            v, times = np.zeros((spec.trials, 0, 0)), np.zeros(0)
        final = {name: np.asarray(getattr(self.lif, name + "_")[:], float).reshape(spec.trials, spec.n_lif)
                 for name in STATE_VARIABLES}
        return BatchOutput(neuron=neuron, time_ms=t_ms, times_ms=times, v_mV=v, final=final)


def _channel_synapses(layout: ChannelLayout, pre: np.ndarray, post: np.ndarray, w: np.ndarray):
    """Synapses of one trial's input channels: every channel of a source gets the source's synapses."""
    counts = np.bincount(pre, minlength=len(layout.first))
    order = np.argsort(pre, kind="stable")
    pre, post, w = pre[order], post[order], w[order]
    first_syn = np.cumsum(counts) - counts
    ch_count = counts[layout.node]  # synapses of each channel
    ch = np.repeat(np.arange(layout.n), ch_count)
    k = np.arange(len(ch)) - np.repeat(np.cumsum(ch_count) - ch_count, ch_count)
    s = first_syn[layout.node[ch]] + k
    return ch.astype(np.int64), post[s].astype(np.int64), w[s]


__all__ = ["NetworkSpec", "Brian2Network", "BatchOutput", "LIF_EQUATIONS", "METHOD", "STATE_VARIABLES",
           "lif_equations", "on_pre"]
