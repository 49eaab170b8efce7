"""neuroemu.pynn: a PyNN backend that runs PyNN scripts on the emulated chip or in Brian2.

Change one line of a PyNN script::

    import neuroemu.pynn as sim        # was: import pyNN.brian2 as sim / import pyNN.nest as sim
    sim.setup(timestep=0.1, hardware="bss2", chip=3, calibration="auto")

and it runs on emulated chip 3 of the bss2 config (or ``backend="brian2"``), returning the
``neo`` data PyNN always returns, in biological units (ms, mV, nA) -- unlike
pynn-brainscales, whose spike times are hardware time. It is a real PyNN backend built on
``pyNN.common`` the way PyNN's own are (``control``, ``simulator`` with a ``State``,
``populations``, ``projections``, ``recording``, ``standardmodels``, the procedural API):
connectors, random distributions, views, assemblies, get/set, initialize, describe and
write_data are PyNN's own machinery. The network is translated to neuroemu's description
(:mod:`.description`), compiled for the chip when ``run()`` first needs it (:func:`get_ir`,
:func:`save_ir`), and run by :mod:`.session`. What is supported: :mod:`.standardmodels`.
"""
from pyNN import errors, random, space  # noqa: F401
from pyNN.connectors import *  # noqa: F401,F403
from pyNN.network import Network  # noqa: F401
from pyNN.random import GSLRNG, NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.recording import *  # noqa: F401,F403
from pyNN.space import Space  # noqa: F401
from pyNN.standardmodels import StandardCellType

from neuroemu.pynn.control import (  # noqa: F401
    end,
    get_current_time,
    get_ir,
    get_max_delay,
    get_min_delay,
    get_time_step,
    initialize,
    num_processes,
    rank,
    reset,
    run,
    run_for,
    run_until,
    save_ir,
    setup,
)
from neuroemu.pynn.populations import Assembly, Population, PopulationView  # noqa: F401
from neuroemu.pynn.procedural_api import connect, create, record, record_gsyn, record_v, set  # noqa: F401
from neuroemu.pynn.projections import Projection  # noqa: F401
from neuroemu.pynn.standardmodels import *  # noqa: F401,F403
from neuroemu.pynn.standardmodels import CELL_TYPES


def list_standard_models() -> list[str]:
    """The standard cell types neuroemu.pynn runs (the refused ones are not listed)."""
    return [c.__name__ for c in CELL_TYPES if issubclass(c, StandardCellType)]
