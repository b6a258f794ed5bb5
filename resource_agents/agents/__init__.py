"""The ocf:fractal:* resource agents.

Every one of them (the exporter's agent too) imports this package, so each of their actions
leaves its record for the exporter (metrics/record.py: standard library only, cheap enough for
the monitor's hot path). The OCF toolkit (resource_agents/ocf) only offers the hook.
"""

from resource_agents.metrics.record import action_done
from resource_agents.ocf.agent import after_action

after_action(action_done)
