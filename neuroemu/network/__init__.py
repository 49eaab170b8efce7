"""Network descriptions (biological units): Python API and YAML."""
from neuroemu.network.model import (
    LIF_DEFAULTS,
    LIF_UNITS,
    AllToAll,
    FixedProbability,
    FromList,
    FromMatrix,
    LIFPopulation,
    Network,
    OneToOne,
    Projection,
    RandomWeights,
    Record,
    SpikeSourcePopulation,
)
from neuroemu.network.yaml_io import load_network, network_from_dict, network_to_dict, save_network_yaml

__all__ = [
    "LIF_DEFAULTS", "LIF_UNITS", "AllToAll", "FixedProbability", "FromList", "FromMatrix", "LIFPopulation",
    "Network", "OneToOne", "Projection", "RandomWeights", "Record", "SpikeSourcePopulation",
    "load_network", "network_from_dict", "network_to_dict", "save_network_yaml",
]
