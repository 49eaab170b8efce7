"""Vectorized per-circuit code search: binary search over the DAC codes of all circuits at once,
then (noise-robust variant) a neighbourhood refinement.

Only the *nominal* DAC map is used, for two things a chip designer knows: the direction of each
map (does a higher code raise or lower the value) and its nominal slope in the map's domain
(value for linear maps, ln value for log maps). Per-circuit gains deviate by a few percent,
which does not matter over the few codes the refinement extrapolates.

Binary search: each step measures all circuits at the middle of their bracket and halves it.
A measurement may be ``+inf``/``-inf`` (clearly above/below, e.g. "never spiked") or NaN (no
information: the bracket stays).

Refinement: measure at a few codes around the bracket's centre; with the measurements of the
last binary-search steps that fall into the same neighbourhood, fit ``y = b + s * code`` with
the nominal slope ``s`` (only the intercept ``b`` is free, so every measurement averages into
it), and solve for the target. A final run at the chosen codes gives the achieved values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from neuroemu.hardware.config import HardwareConfig
from neuroemu.models import dac

#: measure(codes per parameter) -> measured values per parameter (per circuit, chip units)
Measure = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class SearchOptions:
    """Search settings.

    steps: binary-search halvings (10 resolves one code of 1023; the refinement needs fewer).
    refine: run the neighbourhood refinement (the noise-robust variant).
    offsets: codes around the bracket centre measured by the refinement.
    window: history measurements within this many codes of the centre join the fit.
    verify_repeats: measurements at the final codes, averaged into the achieved values.
    """

    steps: int = 7
    refine: bool = True
    offsets: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)
    window: float = 8.0
    verify_repeats: int = 2


@dataclass
class ParameterSearch:
    """Search state of one parameter on every circuit."""

    name: str
    hw: HardwareConfig
    target: float
    n: int
    lo: np.ndarray = field(init=False)
    hi: np.ndarray = field(init=False)
    codes: list[np.ndarray] = field(init=False, default_factory=list)
    ys: list[np.ndarray] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        spec = self.hw.parameters[self.name]
        self.max_code = float(self.hw.dac.max_code)
        self.integer = self.hw.dac.bits is not None
        #: nominal slope in the map's domain per code; its sign is the map's direction
        self.slope = dac.origin_and_slope(spec, self.hw.dac)[1]
        self.y_target = float(self.y(np.asarray(self.target)))
        self.lo = np.zeros(self.n)
        self.hi = np.full(self.n, self.max_code)

    # --- domain -------------------------------------------------------------------------------
    def y(self, values: np.ndarray) -> np.ndarray:
        """Values in the map's domain (ln for log maps; non-positive values -> -inf)."""
        return dac.domain(self.hw.parameters[self.name], values)

    def _round(self, c: np.ndarray) -> np.ndarray:
        return dac.round_code(self.hw.dac, c)

    # --- binary search ------------------------------------------------------------------------
    def mid(self) -> np.ndarray:
        m = 0.5 * (self.lo + self.hi)
        return np.floor(m) if self.integer else m

    def update(self, codes: np.ndarray, values: np.ndarray) -> None:
        """Halve every bracket by the measurement at ``codes``: the smallest code whose value lies at
        or beyond the target in the map's direction stays inside."""
        y = self.y(values)
        self.record(codes, values)
        beyond = np.sign(self.slope) * (y - self.y_target) >= 0  # NaN -> False
        known = ~np.isnan(y)
        step = 1.0 if self.integer else 0.0
        self.hi = np.where(known & beyond, codes, self.hi)
        self.lo = np.where(known & ~beyond, np.minimum(codes + step, self.hi), self.lo)

    def center(self) -> np.ndarray:
        return self._round(0.5 * (self.lo + self.hi))

    # --- refinement ---------------------------------------------------------------------------
    def record(self, codes: np.ndarray, values: np.ndarray) -> None:
        self.codes.append(np.asarray(codes, float).copy())
        self.ys.append(self.y(values))

    def solve(self, center: np.ndarray, window: float) -> np.ndarray:
        """Codes from a fixed-slope line fit to every finite measurement within ``window`` codes of
        ``center``; circuits without any keep ``center``."""
        c = np.array(self.codes)
        y = np.array(self.ys)
        use = np.isfinite(y) & (np.abs(c - center[None, :]) <= window)
        with np.errstate(invalid="ignore"):
            b = np.where(use, y - self.slope * c, 0.0).sum(axis=0) / use.sum(axis=0)
        code = (self.y_target - b) / self.slope
        return self._round(np.where(use.any(axis=0), code, center))

    def estimate(self, final: np.ndarray, window: float) -> np.ndarray:
        """Best estimate of each circuit's value at ``final`` codes (chip units): the fixed-slope line
        through every finite measurement within ``window`` codes (the final one included), which
        averages the noise of all of them; NaN without any."""
        c = np.array(self.codes)
        y = np.array(self.ys)
        use = np.isfinite(y) & (np.abs(c - final[None, :]) <= window)
        with np.errstate(invalid="ignore", divide="ignore"):
            b = np.where(use, y - self.slope * c, 0.0).sum(axis=0) / use.sum(axis=0)
        y_final = b + self.slope * final
        return dac.from_domain(self.hw.parameters[self.name], y_final)

    def success(self, achieved: np.ndarray, estimate: np.ndarray, tolerance: float) -> np.ndarray:
        """The line-fit estimate within ``tolerance`` (map domain) of the target, or within three
        quarters of a DAC step where the DAC is coarser; the (noisier) final measurement within
        three times that. A noisy measurement alone does not fail a good circuit."""
        tol = max(tolerance, 0.75 * abs(self.slope) * (1.0 if self.integer else 0.0))
        with np.errstate(invalid="ignore"):
            da = np.abs(self.y(achieved) - self.y_target)
            de = np.abs(self.y(estimate) - self.y_target)
            return np.isfinite(da) & np.isfinite(de) & (de <= tol) & (da <= 3 * tol)


@dataclass
class SearchOutcome:
    """Result of one parameter's search (per circuit)."""

    codes: np.ndarray
    achieved: np.ndarray  # the final measurement at ``codes``
    estimate: np.ndarray  # line-fit estimate at ``codes`` over all nearby measurements (less noisy)
    uncalibrated: np.ndarray
    nominal_code: float
    success: np.ndarray
    runs: int


def search(measure: Measure, hw: HardwareConfig, targets: dict[str, float], nominal: dict[str, float],
           tolerance: dict[str, float], options: SearchOptions = SearchOptions(),
           tick: Callable[[], None] | None = None) -> dict[str, SearchOutcome]:
    """Search codes for the parameters in ``targets`` (searched in lockstep: one run measures all).

    nominal: each parameter's nominal code for its target, measured first as the uncalibrated
    state; tolerance: allowed |achieved - target| in the map's domain for success."""
    n = hw.neurons.circuits
    states = {name: ParameterSearch(name, hw, t, n) for name, t in targets.items()}
    runs = 0

    def run(codes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        nonlocal runs
        runs += 1
        out = measure(codes)
        if tick is not None:
            tick()
        return out

    before = run({name: np.full(n, nominal[name]) for name in states})
    for name, s in states.items():  # the uncalibrated measurement is the search's first probe
        s.update(np.full(n, nominal[name]), before[name])
    for _ in range(options.steps):
        codes = {name: s.mid() for name, s in states.items()}
        values = run(codes)
        for name, s in states.items():
            s.update(codes[name], values[name])
    centers = {name: s.center() for name, s in states.items()}
    if options.refine:
        for off in options.offsets:
            codes = {name: s._round(centers[name] + off) for name, s in states.items()}
            values = run(codes)
            for name, s in states.items():
                s.record(codes[name], values[name])
        final = {name: s.solve(centers[name], options.window) for name, s in states.items()}
    else:
        final = centers
    repeats = [run(final) for _ in range(max(1, options.verify_repeats))]
    achieved = {}
    for name, s in states.items():
        for r in repeats:
            s.record(final[name], r[name])
        with np.errstate(invalid="ignore"):
            achieved[name] = np.mean([np.asarray(r[name], float) for r in repeats], axis=0)
    out = {}
    for name, s in states.items():
        est = s.estimate(final[name], options.window)
        out[name] = SearchOutcome(codes=final[name], achieved=achieved[name], estimate=est,
                                  uncalibrated=np.asarray(before[name], float), nominal_code=float(nominal[name]),
                                  success=s.success(achieved[name], est, tolerance[name]), runs=runs)
    return out


def runs_per_search(options: SearchOptions) -> int:
    """Runs one :func:`search` makes (for progress bars)."""
    return 1 + options.steps + (len(options.offsets) if options.refine else 0) + max(1, options.verify_repeats)


__all__ = ["SearchOptions", "ParameterSearch", "SearchOutcome", "search", "runs_per_search", "Measure"]

