"""Plots of results people look at (matplotlib, Agg; PNG or PDF by file suffix)."""
