"""Observability: the agents' action records (record.py, on the agents' hot path: standard
library only) and `fractal-ha exporter`, which serves them with the cluster's state.

Nothing here may be imported by this package's __init__: the agents import record.py alone.
"""
