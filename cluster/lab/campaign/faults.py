"""Every fault the lab can make, as plans: what to inject, what the service should do, and how
the operator heals it. A plan's victims are chosen by role (the node serving, another, the DC)
when it is made, from the campaign's seeded random generator."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cluster.lab.lab import Lab
from cluster.openstack.faults import control

CLOUD_SERVICES = ("neutron", "keystone", "object-store", "compute")
# Held this long, then cleared: long enough for several monitors and the load to feel it.
CLOUD_HOLD_S = 6.0
TAKEOVER_BOUND_S = 60.0  # a lost node's service answers again within this
RESTART_BOUND_S = 25.0  # an API killed in place
SLOW_CLOUD_BOUND_S = 90.0  # a takeover through a slow or failing cloud


@dataclass
class Plan:
    kind: str  # what the report groups by
    detail: str  # this draw: which node, which service
    inject: Callable[[], None]
    bound_s: float  # the service answers through the floating IP again within this
    interrupts: bool = True  # False: users should not notice it at all
    quorum_lost_on: str | None = None  # the lone survivor, which must stop the service
    hold_s: float = 0.0  # the fault stays this long before it is healed
    victims: list[str] = field(default_factory=list)  # nodes lost: fenced before they boot
    heal_steps: list[Callable[[], None]] = field(default_factory=list)
    # The failed action that is the fault's own detection (e.g. the workers' monitor after
    # their SIGKILL), not a sign that the cluster failed to ride it out.
    detected_by: str = ""


@dataclass
class Scene:
    """What a plan is drawn from: the lab now, and the campaign's random generator."""

    lab: Lab
    rng: random.Random
    serving: str  # the node the API runs on
    dc: str

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.lab.nodes]

    def other(self) -> str:
        return self.rng.choice([n for n in self.names if n != self.serving])

    def clear_cloud(self) -> None:
        control.clear(self.lab.cloud)


def crash(scene: Scene, victim: str, kind: str) -> Plan:
    serving = victim == scene.serving
    return Plan(kind, f"{victim}{' (serving)' if serving else ''}"
                f"{' (DC)' if victim == scene.dc else ''}",
                scene.lab.node(victim).crash, TAKEOVER_BOUND_S, interrupts=serving,
                victims=[victim])


def crash_serving(scene: Scene) -> Plan:
    return crash(scene, scene.serving, "crash serving node")


def crash_other(scene: Scene) -> Plan:
    return crash(scene, scene.other(), "crash other node")


def crash_dc(scene: Scene) -> Plan:
    return crash(scene, scene.dc, "crash DC")


def kill_api(scene: Scene) -> Plan:
    return Plan("API SIGKILL", scene.serving, lambda: scene.lab.kill_api(scene.serving),
                RESTART_BOUND_S)


def kill_workers(scene: Scene) -> Plan:
    victim = scene.rng.choice(scene.names)

    def workers() -> list[str]:
        return scene.lab.node(victim).exec(["pgrep", "-x", "fractal-worker"],
                                           check=False).stdout.split()

    killed: set[str] = set()

    def inject() -> None:
        killed.update(workers())
        if killed:
            scene.lab.node(victim).exec(["kill", "-KILL", *killed], check=False)

    def restarted() -> None:
        """Until Pacemaker has noticed (a 10 s monitor) and started new workers: healed
        sooner, the monitor's failure was counted against the next fault."""
        deadline = time.monotonic() + RESTART_BOUND_S
        while not set(workers()) - killed and time.monotonic() < deadline:
            time.sleep(0.5)

    plan = Plan("worker SIGKILL", victim, inject, RESTART_BOUND_S, interrupts=False,
                detected_by="fractal-worker_monitor_")
    plan.heal_steps.append(restarted)
    return plan


def isolate(scene: Scene, victim: str, kind: str) -> Plan:
    plan = Plan(kind, victim, lambda: scene.lab.isolate(victim), TAKEOVER_BOUND_S,
                interrupts=victim == scene.serving, victims=[victim])
    plan.heal_steps.append(lambda: scene.lab.isolate(victim, cut=False))
    return plan


def isolate_serving(scene: Scene) -> Plan:
    return isolate(scene, scene.serving, "isolate serving node")


def isolate_other(scene: Scene) -> Plan:
    plan = isolate(scene, scene.other(), "isolate other node")
    plan.hold_s = 3.0  # the service need not move: heal once it is fenced
    return plan


def two_nodes(scene: Scene) -> Plan:
    """Two nodes crash at once: the survivor has no quorum and must stop the service. Half the
    draws keep the node that served, so its own stop is what is tested."""
    survivor = scene.serving if scene.rng.random() < 0.5 else scene.other()
    victims = [n for n in scene.names if n != survivor]

    def inject() -> None:
        for name in victims:
            scene.lab.node(name).crash()

    role = "the serving one" if survivor == scene.serving else "not the serving one"
    return Plan("two nodes crash (quorum lost)", f"{'+'.join(victims)}; {survivor} survives "
                f"({role})", inject, TAKEOVER_BOUND_S, quorum_lost_on=survivor, hold_s=8.0)


def cloud_fault(scene: Scene, service: str | None = None) -> Plan:
    service = service or scene.rng.choice(CLOUD_SERVICES)
    mode = scene.rng.choice(("latency", "errors", "outage"))
    # Errors at random, as a real half-failing API: spread evenly, they met fence_openstack's
    # second call on every run and no fencing ever succeeded.
    spec = {"latency": {"latency_ms": 1500},
            "errors": {"error_rate": 0.5, "error_status": 503, "random_errors": True},
            "outage": {"outage_seconds": CLOUD_HOLD_S}}[mode]
    plan = Plan(f"cloud {mode}", f"{service} {spec}",
                lambda: control.inject(scene.lab.cloud, service, **spec), RESTART_BOUND_S,
                interrupts=False, hold_s=CLOUD_HOLD_S)
    plan.heal_steps.append(scene.clear_cloud)
    return plan


def cloud_during_crash(scene: Scene) -> Plan:
    """A cloud fault on what a takeover needs (fencing through compute, the address through
    Neutron, both through Keystone), then the serving node crashes."""
    cloud = cloud_fault(scene, scene.rng.choice(("neutron", "keystone", "compute")))
    victim = crash_serving(scene)

    def inject() -> None:
        cloud.inject()
        victim.inject()

    plan = Plan("cloud fault + crash", f"{cloud.kind}: {cloud.detail}; crash {victim.detail}",
                inject, SLOW_CLOUD_BOUND_S, victims=victim.victims)
    plan.heal_steps.append(scene.clear_cloud)
    return plan


def revoke_tokens(scene: Scene) -> Plan:
    return Plan("token revocation", "every token of the cluster's cloud user",
                lambda: control.revoke_tokens(scene.lab.cloud), RESTART_BOUND_S,
                interrupts=False, hold_s=3.0)


def revoked_slow_keystone_crash(scene: Scene) -> Plan:
    """The standby's cached token revoked while Keystone is slow, then the serving node
    crashes: the takeover logs in again through the slow Keystone."""
    victim = crash_serving(scene)

    def inject() -> None:
        control.revoke_tokens(scene.lab.cloud)
        control.inject(scene.lab.cloud, "keystone", latency_ms=1500)
        victim.inject()

    plan = Plan("token revoked + slow Keystone + crash", victim.detail, inject,
                SLOW_CLOUD_BOUND_S, victims=victim.victims)
    plan.heal_steps.append(scene.clear_cloud)
    return plan


KINDS: dict[str, Callable[[Scene], Plan]] = {
    "crash-serving": crash_serving, "crash-other": crash_other, "crash-dc": crash_dc,
    "kill-api": kill_api, "kill-workers": kill_workers, "isolate-serving": isolate_serving,
    "isolate-other": isolate_other, "two-nodes": two_nodes, "cloud": cloud_fault,
    "cloud-crash": cloud_during_crash, "revoke": revoke_tokens,
    "revoke-slow-crash": revoked_slow_keystone_crash,
}


def draw(rng: random.Random, count: int, only: list[str] | None = None) -> list[str]:
    """`count` fault kinds: every kind once (shuffled) while the count allows, then at random,
    so a short campaign still covers as many kinds as it can."""
    unknown = set(only or ()) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds {sorted(unknown)} (known: {', '.join(KINDS)})")
    names = list(only or KINDS)
    rng.shuffle(names)
    sequence = names[:count]
    sequence += [rng.choice(names) for _ in range(count - len(sequence))]
    return sequence
