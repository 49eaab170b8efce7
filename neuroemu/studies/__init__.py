"""Robustness studies: how much mismatch, noise, quantization or dead neurons a trained network
takes. ``knobs`` names the imperfections and applies a grid point; ``robustness`` builds the
sweep and runs one (point, chip) task."""
from neuroemu.studies.knobs import KNOBS, apply_knobs, check_backend, check_knob
from neuroemu.studies.robustness import build_spec, run_point

__all__ = ["KNOBS", "apply_knobs", "check_backend", "check_knob", "build_spec", "run_point"]
