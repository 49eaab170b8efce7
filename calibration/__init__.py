"""Calibration of the emulated chip (per-circuit DAC codes found by measuring)."""
