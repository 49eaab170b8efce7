"""The sweep engine: grids of points x chip seeds on Dask, stored in HDF5, resumable.

Used by calibration sweeps and robustness studies. See :func:`run_sweep`.
"""
from neuroemu.sweeps.engine import run_sweep
from neuroemu.sweeps.spec import SweepSpec
from neuroemu.sweeps.store import read_store
from neuroemu.sweeps.table import aggregate

__all__ = ["run_sweep", "SweepSpec", "read_store", "aggregate"]
