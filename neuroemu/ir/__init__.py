"""The compiled network (IR) and its HDF5 file."""
from neuroemu.ir.io import load_ir, save_ir
from neuroemu.ir.model import (
    EXC,
    INH,
    IR,
    RECEPTORS,
    ChipTargets,
    IRCalibration,
    IRPopulation,
    IRProjection,
    LogicalNetwork,
    NeuronParams,
    Placement,
    Provenance,
    Synapses,
    WeightQuantization,
)

__all__ = [
    "EXC", "INH", "IR", "RECEPTORS", "IRCalibration", "ChipTargets", "IRPopulation", "IRProjection", "LogicalNetwork",
    "NeuronParams", "Placement", "Provenance", "Synapses", "WeightQuantization", "load_ir", "save_ir",
]
