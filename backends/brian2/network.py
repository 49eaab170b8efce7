"""The Brian2 network of an IR: B trial copies side by side, exact linear propagation.

Model (per LIF neuron, biological units): C dV/dt = -(C/tau_mem)(V - v_rest) + I_exc + I_inh
+ I_offset, dI_x/dt = -I_x/tau_syn_x, I_x jumps by w (nA) per spike; threshold v_thresh, reset
to v_reset, V clamped for tau_refrac while the currents keep decaying. The constant current
enters the propagator through ``v_inf = v_rest + I_offset tau_mem / C``
(:meth:`~neuroemu.ir.model.NeuronParams.v_inf`, a per-neuron constant), the potential V relaxes
to. Initial V = v_inf, unless a run continues from a state (``initial``: V, currents and
refractory state of every copy).

Exact integration without Brian2's ``exact`` method. Brian2's ``exact`` integrator solves the
equations symbolically and breaks down for tau_mem == tau_syn (the standard TTFS setting: the
generic solution divides by tau_syn - tau_mem). We do not give Brian2 differential equations at
all: every state variable is a plain parameter and one ``run_regularly`` block (slot
``groups``) applies the closed-form propagator of the linear system over one step::

    V' = v_inf + (V - v_inf) e^{-dt/tau_m} + (P_e(dt) I_exc + P_i(dt) I_inh) / C
    I_x' = I_x e^{-dt/tau_x},    P_x(h) = h e^{-h/tau_m} exprel(h/tau_m - h/tau_x)

``exprel(y) = (e^y - 1)/y`` is 1 at y = 0, so tau_m == tau_x needs no special case
(P = h e^{-h/tau}); the coefficients are computed once per neuron by the emulator's kernel
(``dynamics.kernel_p``).

Exact event times. Events are not binned to the grid. A spike at time s inside the step
[t, t + dt) is delivered at the end of that step with its exact contribution to the end state
(u = t + dt - s): I_x += w e^{-u/tau_x} and V += w P_x(u) / C. Input spikes come from a
generator group reading exact times from a table (see :mod:`.inputs`); LIF spike times are
located inside their step by linear interpolation of V between the step's ends (error
~dt^2/(8 tau)), stored in ``tc`` and used by the LIF->LIF synapses and the spike monitor.
Refractory periods end at their exact time: the reset precomputes the propagator from the
restart to the end of the step in which the restart falls and that step's index (``k_ref``);
the update and the threshold compare step indices, not times, so a restart on a grid point is
treated alike whatever the rounding (Brian2 compiles with fast-math) and wherever time starts.

Schedule of one step [t, t + dt): ``start`` traces record V(t); ``groups`` propagate every
neuron to t + dt (clamped while refractory); ``after_groups`` input channels fire and their
synapses add their exact contributions; ``thresholds`` V >= v_thresh; ``resets`` spike time,
reset, refractory end; ``after_resets`` LIF->LIF synapses deliver (so they see ``tc``), spikes
are recorded. A LIF spike therefore acts on its targets from its exact time, but a crossing
it causes within the same step is detected one step late (at most dt).

Synaptic delays (``ideal``/``as-deployed`` modes). Input synapses with a delay d are fed by
their own channels whose times are the source's times + d (exact, see :mod:`.inputs`). A
LIF->LIF synapse with delay d arrives at ``tc + d``, which lies in the step D = floor(d/dt) or
D + 1 steps after the spike's step: two pathways with those Brian2 delays each add the exact
contribution of the spike that arrives in their step. Brian2's spike queue carries no spike
times, so a neuron keeps its last three spike times (``tc``, ``tc1``, ``tc2``) and a pathway
takes the one that arrives in its step: exact while a neuron fires at most three times within
one delay + one step (e.g. 5 ms at 600 Hz); a spike beyond that is not delivered, which the
backend reports (``info["delayed_spikes_lost"]``). Spikes still in flight at the end of a
run are carried by the state and delivered by replay channels (:mod:`.inputs`).

Noise (chip-replay only). Membrane noise, if any, is compiled in as an Ornstein-Uhlenbeck
increment of V per free step (Brian2 ``randn``, seeded per batch); threshold jitter is an
offset written into ``v_thresh`` of every copy after each restore. Neither changes the code
of networks without noise.

Trials. B trials run as B independent copies inside one network (neuron i of trial k is
k * n_lif + i, channel c of trial k is k * C + c, block-diagonal synapses), built and compiled
once, stored, and restored for every batch of B trials with a new spike table.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroemu.ir.model import NeuronParams

from neuroemu.backends.brian2.codegen import canonical_executable
from neuroemu.backends.brian2.inputs import STEP_EPS, ChannelLayout

_LIF_EQS = """
v : volt
v_prev : volt
I_exc : amp
I_inh : amp
Ie_prev : amp
Ii_prev : amp
t_first : second
t_last : second
ref_until : second
k_ref : 1
tc : second
tc1 : second
tc2 : second
rs_m : 1
rs_e : second
rs_i : second
v_inf : volt (constant)
v_reset : volt (constant)
v_thresh : volt (constant)
C : farad (constant)
tau_mem : second (constant)
tau_syn_exc : second (constant)
tau_syn_inh : second (constant)
tau_refrac : second (constant)
n_step : volt (constant)
p_mm : 1 (constant)
p_e : second (constant)
p_i : second (constant)
d_e : 1 (constant)
d_i : 1 (constant)
"""

# one step: free propagation, exact restart inside the step, or clamp; the start state and the
# span of this step's input events (none yet) are kept for locating a crossing
_LIF_UPDATE = """
v_prev = v
Ie_prev = I_exc
Ii_prev = I_inh
t_first = t + dt
t_last = t
free = int(t_in_timesteps > k_ref)
part = int(t_in_timesteps == k_ref)
v = v_reset + free*((v_inf - v_reset) + (v - v_inf)*p_mm + (p_e*I_exc + p_i*I_inh)/C) + part*((v_inf - v_reset) + (v_reset - v_inf)*rs_m + (rs_e*I_exc + rs_i*I_inh)/C)
I_exc = I_exc*d_e
I_inh = I_inh*d_i
"""
# membrane noise (only compiled into networks that have it): an Ornstein-Uhlenbeck increment
# through the leak, stationary std sigma (n_step = sigma sqrt(1 - e^{-2 dt/tau_mem})), while free
_LIF_NOISE = "v = v + free*n_step*randn()\n"

_LIF_THRESHOLD = "v >= v_thresh and t_in_timesteps >= k_ref"

# The crossing inside the step [t_a, t + dt) (t_a: step start or refractory end). Between the
# step's first and last input event the trajectory is free, so: (1) if the free trajectory from
# the start state crosses before the first event, solve it forwards; (2) else if the free
# trajectory run backwards from the end state is still below threshold at the last event,
# solve it backwards; both by safeguarded Newton from the linear interpolation, exact. (3) Else
# (crossing between two events of one step) the linear interpolation (error < dt).
_FWD = """vf = v_inf + (v_a - v_inf)*exp(-y/tau_mem) + y*exp(-y/tau_mem)*(exprel(y/tau_mem - y/tau_syn_exc)*Ie_a + exprel(y/tau_mem - y/tau_syn_inh)*Ii_a)/C
sf = (v_inf - vf)/tau_mem + (Ie_a*exp(-y/tau_syn_exc) + Ii_a*exp(-y/tau_syn_inh))/C
"""
_BWD = """vb = v_inf + exp(x/tau_mem)*(v - v_inf) - x*(exprel(x/tau_mem - x/tau_syn_exc)*I_exc*exp(x/tau_syn_exc) + exprel(x/tau_mem - x/tau_syn_inh)*I_inh*exp(x/tau_syn_inh))/C
sb = (v_inf - vb)/tau_mem + (I_exc*exp(x/tau_syn_exc) + I_inh*exp(x/tau_syn_inh))/C
"""
_POS = "*volt/second"
_NEWTON_FWD = _FWD + f"y = clip(y - int(sf > 0{_POS})*(vf - v_thresh)/(sf + int(sf <= 0{_POS})*volt/second), 0*second, yf)\n"
_NEWTON_BWD = _BWD + f"x = clip(x + int(sb > 0{_POS})*(vb - v_thresh)/(sb + int(sb <= 0{_POS})*volt/second), 0*second, xb)\n"
_LIF_RESET = """
tc2 = tc1
tc1 = tc
late = int(ref_until > t)
v_a = v_prev + late*(v_reset - v_prev)
t_a = clip(ref_until, t, t + dt)
Ie_a = Ie_prev*exp((t - t_a)/tau_syn_exc)
Ii_a = Ii_prev*exp((t - t_a)/tau_syn_inh)
h = t + dt - t_a
frac = int(v_a < v_thresh)*clip((v_thresh - v_a)/(v - v_a + int(v_a >= v_thresh)*volt), 0, 1)
yf = clip(t_first - t_a, 0*second, h)
xb = t + dt - clip(t_last, t_a, t + dt)
y = clip(frac*h, 0*second, yf)
x = clip((1 - frac)*h, 0*second, xb)
""" + _NEWTON_FWD * 3 + _NEWTON_BWD * 3 + """y_end = y
y = yf
""" + _FWD + """use_f = int(vf >= v_thresh)
x_end = x
x = xb
""" + _BWD + """use_b = (1 - use_f)*int(vb < v_thresh)
tc = use_f*(t_a + y_end) + use_b*(t + dt - x_end) + (1 - use_f - use_b)*(t_a + frac*h)
v = v_reset
ref_until = tc + tau_refrac
k_ref = floor(ref_until/dt)
r = clip(k_ref*dt + dt - ref_until, 0*second, dt)
rs_m = exp(-r/tau_mem)
rs_e = r*exp(-r/tau_mem)*exprel(r/tau_mem - r/tau_syn_exc)*exp((r - dt)/tau_syn_exc)
rs_i = r*exp(-r/tau_mem)*exprel(r/tau_mem - r/tau_syn_inh)*exp((r - dt)/tau_syn_inh)
"""


def _on_pre(receptor: str, time_var: str, exact: bool, delayed: bool = False) -> str:
    """Synaptic event code: exact sub-step contribution of a spike at ``time_var``_pre.
    ``delayed``: a LIF->LIF synapse with delay ``d``, delivering the one of the presynaptic
    neuron's last spikes that arrives in this step (see the module docstring)."""
    if delayed:  # the one of the presynaptic neuron's last three spikes that arrives in this step, if any
        tau = f"tau_syn_{receptor}_post"
        lines = []
        taken = ""
        for k, var in enumerate(("tc", "tc1", "tc2")):
            lines.append(f"a{k} = {taken}int({var}_pre + d >= t - {STEP_EPS}*dt and {var}_pre + d < t + dt - {STEP_EPS}*dt)")
            taken += f"(1 - a{k})*"
        return ("\n".join(lines) + "\n"
                "a = a0 + a1 + a2\n"
                "u = clip(t + dt - (a0*tc_pre + a1*tc1_pre + a2*tc2_pre + d), 0*second, dt)\n"
                f"I_{receptor}_post += a*w*exp(-u/{tau})\n"
                f"h = clip(t + dt - ref_until_post, 0*second, u)\n"
                f"v_post += a*w/C_post*exp((h - u)/{tau})*h*exp(-h/tau_mem_post)*exprel(h/tau_mem_post - h/{tau})")
    if not exact:  # grid delivery: the charge arrives at the end of the spike's step
        return f"I_{receptor}_post += w"
    tau = f"tau_syn_{receptor}_post"
    # V gains charge only while the neuron is free: over h, the part of the u since the spike
    # after the refractory end (h = u: free all along; h = 0: clamped until the step end)
    span = ("t_first_post = clip(t_first_post, 0*second, {0}_pre)\n"
            "t_last_post = clip(t_last_post, {0}_pre, t + dt)\n").format(time_var) if time_var == "next_t" else ""
    return (span + f"u = t + dt - {time_var}_pre\n"
            f"I_{receptor}_post += w*exp(-u/{tau})\n"
            f"h = clip(t + dt - ref_until_post, 0*second, u)\n"
            f"v_post += w/C_post*exp((h - u)/{tau})*h*exp(-h/tau_mem_post)*exprel(h/tau_mem_post - h/{tau})")


def _step_kernel(h: float, tau_m: np.ndarray, tau_s: np.ndarray) -> np.ndarray:
    """P(h) per neuron (same units as h): the emulator's kernel
    (:func:`neuroemu.backends.emulator.dynamics.kernel_p`, the one LIF kernel), per element."""
    from neuroemu.backends.emulator.dynamics import kernel_p

    tm, ts = np.broadcast_arrays(np.asarray(tau_m, float), np.asarray(tau_s, float))
    return np.array([kernel_p(h, 1.0 / a, 1.0 / b) for a, b in zip(tm.ravel(), ts.ravel())]).reshape(tm.shape)


@dataclass
class NetworkSpec:
    """What one Brian2 network simulates, biological units (ms, mV, nA, nF)."""

    params: NeuronParams  # per LIF neuron
    dead: np.ndarray  # bool per LIF neuron: never spikes
    syn_pre: np.ndarray  # global node id per synapse
    syn_post: np.ndarray  # LIF index per synapse
    syn_weight: np.ndarray  # nA, signed
    syn_receptor: np.ndarray  # 0 exc, 1 inh
    syn_delay: np.ndarray  # ms per synapse (input synapses: 0, their delays are in the channel times)
    syn_replay: np.ndarray  # bool per synapse: a copy of a delayed LIF->LIF synapse fed by a replay channel
    lif_index: np.ndarray  # global node id -> LIF index, -1 for spike sources
    layout: ChannelLayout  # input channels of one trial
    trials: int  # trial copies side by side
    dt_ms: float
    record_lif: np.ndarray  # LIF indices whose V is recorded (every trial)
    exact_events: bool = True
    membrane_noise_mV: float = 0.0  # stationary std of the injected membrane noise (0: none)

    @property
    def n_lif(self) -> int:
        return len(self.params.tau_mem)

    def structure_key(self) -> tuple:
        """What a built network is made of (networks with the same key differ in values only)."""
        arrays = (self.syn_pre, self.syn_post, self.syn_receptor, self.syn_delay, self.syn_replay, self.lif_index,
                  self.record_lif)
        return (self.n_lif, self.trials, self.dt_ms, self.exact_events, self.membrane_noise_mV > 0, self.layout.key(),
                *(np.ascontiguousarray(a).tobytes() for a in arrays))


@dataclass
class BatchOutput:
    """Spikes and traces of one batch of trial copies."""

    neuron: np.ndarray  # index into the copies (trial copy * n_lif + LIF index)
    time_ms: np.ndarray
    times_ms: np.ndarray  # trace sample times
    v_mV: np.ndarray  # (copies, recorded, samples)
    final: dict[str, np.ndarray]  # STATE_VARIABLES at the end, SI units, (copies, n_lif); ref_until relative to the end


#: LIF variables that carry a run's state into the next (SI; ``ref_until`` in s since the run's start)
STATE_VARIABLES = ("v", "I_exc", "I_inh", "ref_until", "k_ref", "rs_m", "rs_e", "rs_i")


class Brian2Network:
    """One built Brian2 network (compiled on first run, reused for every batch)."""

    def __init__(self, spec: NetworkSpec):
        import brian2 as b2

        self.spec = spec
        self._table = np.full(1, np.inf)
        B, n, C = spec.trials, spec.n_lif, spec.layout.n
        dt_s = spec.dt_ms * 1e-3
        self.clock = b2.Clock(dt=dt_s * b2.second, name="neuroemu_clock")

        # --- LIF neurons, B copies (values: set_values) ----------------------------------------
        lif = b2.NeuronGroup(B * n, _LIF_EQS, threshold=_LIF_THRESHOLD, reset=_LIF_RESET, clock=self.clock,
                             name="neuroemu_lif", namespace={})
        self._weights: list = []  # (Synapses, function of a spec giving the weights (nA) of one copy)
        lif.ref_until_ = -1.0  # long ago: free
        lif.k_ref_ = -1e12
        lif.tc_ = lif.tc1_ = lif.tc2_ = -1e9  # no earlier spikes
        update = _LIF_UPDATE + (_LIF_NOISE if spec.membrane_noise_mV > 0 else "")
        lif.run_regularly(update, when="groups", name="neuroemu_lif_update")
        self.lif = lif
        objects: list = [lif]

        # --- input channels, B copies: exact times from a table swapped per batch -----------
        table_fn = self._table_function(b2)
        gen = b2.NeuronGroup(max(B * C, 1), "next_t : second\nlast_t : second\nptr : integer",
                             threshold=f"next_t < t + dt - {STEP_EPS}*dt",
                             reset="last_t = next_t\nptr += 1\nnext_t = neuroemu_spike_table(ptr)*second", clock=self.clock,
                             name="neuroemu_inputs", namespace={"neuroemu_spike_table": table_fn})
        gen.next_t_ = np.inf
        gen.thresholder["spike"].when = "after_groups"  # after propagation, before LIF thresholds
        gen.thresholder["spike"].order = 0
        self.gen = gen
        objects.append(gen)

        # --- synapses: (input | LIF) x (exc | inh), block-diagonal over the copies ------------
        lif_pre = spec.lif_index[spec.syn_pre]
        for source in ("inputs", "replay", "lif"):
            for rec, rname in ((0, "exc"), (1, "inh")):
                from_input = (lif_pre < 0) & (spec.syn_replay if source == "replay" else ~spec.syn_replay)
                sel = (spec.syn_receptor == rec) & (from_input if source != "lif" else (lif_pre >= 0))
                if not np.any(sel):
                    continue
                if source != "lif":
                    i1, j1, _ = _channel_synapses(spec.layout, spec.syn_pre[sel], spec.syn_post[sel],
                                                  spec.syn_weight[sel])
                    weights = (lambda sp, sel=sel: _channel_synapses(sp.layout, sp.syn_pre[sel], sp.syn_post[sel],
                                                                     sp.syn_weight[sel])[2])
                    stride, pre_group, when, order, tvar = C, gen, "after_groups", 1, "next_t"
                    if source == "replay":  # delayed LIF spikes of an earlier run: delivered as the lif ones
                        when, order, tvar = "after_resets", 0, "last_t"
                else:
                    delayed = spec.syn_delay > 0
                    d_sel = sel & delayed
                    if np.any(d_sel):
                        objects.append(self._delayed_synapses(b2, rname, lif_pre[d_sel], spec.syn_post[d_sel], d_sel,
                                                              spec.syn_delay[d_sel]))
                    sel = sel & ~delayed
                    i1, j1 = lif_pre[sel], spec.syn_post[sel]
                    weights = lambda sp, sel=sel: sp.syn_weight[sel]  # noqa: E731
                    stride, pre_group, when, order, tvar = n, lif, "after_resets", 0, "tc"
                if len(i1) == 0:
                    continue
                S = b2.Synapses(pre_group, lif, "w : amp (constant)", on_pre=_on_pre(rname, tvar, spec.exact_events),
                                clock=self.clock, name=f"neuroemu_{source}_{rname}", namespace={})
                offs = np.repeat(np.arange(B, dtype=np.int64), len(i1))
                S.connect(i=np.tile(i1, B) + offs * stride, j=np.tile(j1, B) + offs * n)
                self._weights.append((S, weights))
                S.pre.when = when
                S.pre.order = order
                objects.append(S)

        # --- monitors ---------------------------------------------------------------------
        self.spikes = b2.SpikeMonitor(lif, variables=["tc"], when="after_resets", order=5, name="neuroemu_spikes")
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
        tm, te, ti = p.tau_mem * 1e-3, p.tau_syn_exc * 1e-3, p.tau_syn_inh * 1e-3  # s
        v_inf = p.v_inf()  # mV: where V relaxes to (the initial V)
        values = {
            "v_inf": v_inf * 1e-3, "v_reset": p.v_reset * 1e-3,
            "v_thresh": np.where(spec.dead, np.inf, p.v_thresh * 1e-3), "C": p.cm * 1e-9, "tau_mem": tm,
            "tau_syn_exc": te, "tau_syn_inh": ti, "tau_refrac": p.tau_refrac * 1e-3,
            "p_mm": np.exp(-dt_s / tm), "p_e": _step_kernel(dt_s, tm, te), "p_i": _step_kernel(dt_s, tm, ti),
            "d_e": np.exp(-dt_s / te), "d_i": np.exp(-dt_s / ti), "v": v_inf * 1e-3, "v_prev": v_inf * 1e-3,
            "n_step": spec.membrane_noise_mV * 1e-3 * np.sqrt(-np.expm1(-2.0 * dt_s / tm)),
        }
        self._v_thresh = rep(values["v_thresh"])
        for name, val in values.items():
            setattr(self.lif, name + "_", rep(val))  # SI values, no unit checks needed
        for S, weights in self._weights:
            S.w_ = np.tile(np.asarray(weights(spec), float) * 1e-9, B)
        self.net.store("initial")
        self._stored = True

    def _delayed_synapses(self, b2, rname: str, i1: np.ndarray, j1: np.ndarray, sel: np.ndarray, d_ms: np.ndarray):
        """LIF->LIF synapses of receptor ``rname`` (the spec's synapses ``sel``) with delays
        ``d_ms``: the two pathways of the module docstring, delivering D and D + 1 steps after
        the spike's step."""
        spec, B, n = self.spec, self.spec.trials, self.spec.n_lif
        S = b2.Synapses(self.lif, self.lif, "w : amp (constant)\nd : second (constant)",
                        on_pre={"pre": _on_pre(rname, "tc", True, delayed=True),
                                "late": _on_pre(rname, "tc", True, delayed=True)},
                        clock=self.clock, name=f"neuroemu_lif_{rname}_delayed", namespace={})
        offs = np.repeat(np.arange(B, dtype=np.int64), len(i1))
        S.connect(i=np.tile(i1, B) + offs * n, j=np.tile(j1, B) + offs * n)
        self._weights.append((S, lambda sp: sp.syn_weight[sel]))
        S.d_ = np.tile(d_ms * 1e-3, B)
        steps = np.floor(d_ms / spec.dt_ms + 1e-9)
        S.pre.delay = np.tile(steps * spec.dt_ms * 1e-3, B) * b2.second
        S.late.delay = np.tile((steps + 1) * spec.dt_ms * 1e-3, B) * b2.second
        for pathway in (S.pre, S.late):
            pathway.when = "after_resets"
            pathway.order = 0
        return S

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
        (copies, n_lif), ``ref_until`` relative to this run's start); ``table``/``start`` from
        :func:`.inputs.spike_table`; ``thr_offset_mV`` (copies, n_lif): threshold offsets of this
        batch (jitter); ``noise_seed`` seeds Brian2's ``randn`` (membrane noise; numpy's global
        state is left as it was)."""
        import brian2 as b2

        spec = self.spec
        self.net.restore("initial")
        if initial is not None:
            for name in STATE_VARIABLES:
                setattr(self.lif, name + "_", np.asarray(initial[name], float).reshape(-1))
            self.lif.v_prev_ = self.lif.v_[:]
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
        t_ms = np.asarray(self.spikes.tc_[:], float) * 1e3
        if self.trace is not None:
            v = np.asarray(self.trace.v_[:], float) * 1e3  # (copies * recorded, samples)
            v = v.reshape(spec.trials, len(spec.record_lif), -1)
            times = np.asarray(self.trace.t_[:], float) * 1e3
        else:
            v, times = np.zeros((spec.trials, 0, 0)), np.zeros(0)
        end_s = n_steps * spec.dt_ms * 1e-3
        final = {name: np.asarray(getattr(self.lif, name + "_")[:], float).reshape(spec.trials, spec.n_lif)
                 for name in STATE_VARIABLES}
        final["ref_until"] = final["ref_until"] - end_s
        final["k_ref"] = final["k_ref"] - n_steps
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


__all__ = ["NetworkSpec", "Brian2Network", "BatchOutput"]
