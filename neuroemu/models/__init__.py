"""The physics of the chip's neuron and its parameters, written once.

* :mod:`neuroemu.models.lif`: the current-based LIF neuron (its ODEs) and its parameter schema,
  from which the description's defaults, the IR's fields and the chip's targets derive;
* :mod:`neuroemu.models.psp`: the exact solution of those ODEs between events: the PSP kernel
  and the free evolution of (V, I_exc, I_inh);
* :mod:`neuroemu.models.dac`: the nominal CapMem DAC map between 10-bit codes and analog values;
* :mod:`neuroemu.models.refractory`: the digital refractory counter (clock scales and counters
  for target refractory times, as calix chooses them).
"""
