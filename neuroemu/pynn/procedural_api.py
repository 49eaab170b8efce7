"""PyNN's procedural API (create, connect, record, ...) built from neuroemu.pynn's classes."""
from __future__ import annotations

from pyNN import common
from pyNN.connectors import FixedProbabilityConnector

from neuroemu.pynn import simulator
from neuroemu.pynn.populations import Population
from neuroemu.pynn.projections import Projection
from neuroemu.pynn.standardmodels import StaticSynapse

create = common.build_create(Population)

connect = common.build_connect(Projection, FixedProbabilityConnector, StaticSynapse)

set = common.set

initialize = common.initialize

record = common.build_record(simulator)


def record_v(source, filename):
    return record(["v"], source, filename)


def record_gsyn(source, filename):
    return record(["gsyn_exc", "gsyn_inh"], source, filename)
