"""Built-in hardware configs (package data): bss2.yaml, ideal.yaml, small.yaml."""
