"""Failover of the whole service on the real three-node lab, end to end as a client sees it:
ocf:fractal:floating-ip in fractal.crm's layout vs Debian's ocf:heartbeat:openstack-floating-ip
on the same lab, in the layout its documentation gives (a group: the address then the API,
default requires=fencing) and, for information, in fractal.crm's layout (stock-clone).

Agents (--agents): ours, stock, stock-clone, and ours-restart (fractal.crm without the rule
that moves the address off a node whose API failed, with the order it replaced: a failed API
is restarted in place and the address waits for it; the layout before 2026-12-02 14:30 UTC),
ours-no-fence-delay (fencing not held 2 s: it competes with the takeover), ours-no-delays (nor
the scheduler's transition-delay: the DC may sleep 1 s before scheduling) and ours-coef650
(that, on corosync's default token coefficient: a 1150 ms token on three nodes; the lab
before 2026-12-04).
--scenarios picks some (e.g. "API SIGKILL"); with --merge the others keep their last trials.
For each a lab comes up (its own cloud, prefix
fhb<pid>, always taken down), then N rounds of each scenario:
  node crash   SIGKILL to the PID 1 of the node that holds the address (every process of the node
               dies at once); fence_openstack powers it off. Every other round the address is
               first placed on the DC, so that the crashed node is the DC (reported apart: an
               election comes first). Between trials the node is booted again, the cluster
               re-forms and settles.
  API SIGKILL  SIGKILL to the API process on the address's node; Pacemaker's monitor (every
               second) sees it and restarts it in place, and (ours) moves the address to a
               node whose API serves meanwhile; failures cleaned up between trials.
  isolation    the address's node's cable to the tenant network unplugged (its switch port
               down): the quorate two take over and fence it; the cable back and the node
               booted between trials. Target: the quorate side serves again p50 <= 3 s.
  planned move `crm resource move` of the address (the group) to another node, then clear:
               failed probes and the longest gap between two answers.
  standby      `crm node standby` of the address's node, then online: the same.
A prober in the client namespace starts `GET /healthz` on the floating IP every 50 ms (each its
own connection, 0.5 s timeout, so a hanging one never delays the next). Downtime = from the fault
to the answer of the first probe that started after the last failed one (all probes until the
cluster has settled count: a late blip is downtime too). Phases of each node crash come from
the DC's pacemaker.log. Targets (issue 17): node crash p50 <= 2.5 s and >= 3x faster than the
stock agent; API SIGKILL p50 <= 1 s; planned move and standby: at most one failed request of a
client at 20 requests/s (the prober's rate).

    .venv/bin/python -m benchmarks.failover [--trials N] [--agents ours,stock,stock-clone]
        [--merge]   keep the other agents' trials from results/failover.json (the shared lock is
                    held at most ~15 min at a time: one agent per hold, same commit)

The stock agent needs two things the lab does not give by itself: the openstack-info clone
(cluster/config/stock-openstack.crm) and, for that, a metadata service at 169.254.169.254 (it
reads its server id there): a small one in the router's namespace answers each node by its
source address, as Neutron's metadata proxy does in a router.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from string import Template

from benchmarks.report import RESULTS, write
from cluster import operations
from cluster.lab.lab import SERVICE_ADDRESS, Lab
from cluster.lab.probes import Probes, http_get, http_ok
from cluster.openstack.faults import control
from cluster.openstack.layout import MEMBER_CLOUD

STOCK_CRM = Path(__file__).resolve().parent.parent / "cluster" / "config" / "stock-openstack.crm"
METADATA_ADDRESS = "169.254.169.254"
PROBE_EVERY = 0.05
PROBE_TIMEOUT = 0.5
RECOVERY_BOUND = 120.0  # a trial that takes longer is recorded as failed
HANDOVERS = ("planned move", "standby")
SCENARIOS = ("node crash", "API SIGKILL", "isolation", *HANDOVERS)

# The metadata service openstack-info reads (curl http://169.254.169.254/openstack/latest/
# meta_data.json): one per router, answering each instance by its source address. "uuid" must
# not be the last key: the agent greps for `"uuid": "...",$` in json.tool's output.
METADATA = """import http.server, json, sys
by_address = json.loads(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        found = by_address.get(self.client_address[0])
        if found is None or self.path.rstrip("/") != "/openstack/latest/meta_data.json":
            self.send_error(404)
            return
        body = json.dumps(found).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer((sys.argv[1], 80), Handler)
print("ready", flush=True)
server.serve_forever()
"""


class Prober(Probes):
    """The client's view: GET /healthz on the service address every PROBE_EVERY s."""

    def __init__(self, lab: Lab, log: Path) -> None:
        super().__init__(lab.client_netns, SERVICE_ADDRESS, lab.service.api_port, log,
                         interval=PROBE_EVERY, timeout=PROBE_TIMEOUT,
                         request=http_get("/healthz", SERVICE_ADDRESS))

    def outcomes(self, since: float) -> list[tuple[float, float, bool]]:
        """(started, answered-or-gave-up, ok) of the probes started after `since`."""
        return [(started, ended, http_ok(answer))
                for started, ended, answer in self.attempts(since)]

    def recovered(self, since: float, stable: float = 2.0) -> bool:
        """Every probe over the last `stable` s answered, after the last failed one (if any:
        a killed API's worker serves until its successor answers, so none may fail); the
        cluster's settling that follows counts its probes too."""
        rows = self.outcomes(since)
        failed = [r for r in rows if not r[2]]
        after = [r for r in rows if not failed or r[0] > failed[-1][0]]
        return bool(after) and after[-1][0] - after[0][0] >= stable


def downtime(rows: list[tuple[float, float, bool]], fault: float) -> float | None:
    """From the fault to the answer of the first probe started after the last failed one."""
    failed = [r for r in rows if not r[2]]
    if not failed:
        return 0.0
    after = [r for r in rows if r[0] > failed[-1][0] and r[2]]
    return after[0][1] - fault if after else None


# -- the stock agent's set-up ----------------------------------------------------------------
def stock_service(lab: Lab) -> None:
    """Debian's agent for the address: fractal.crm, another agent and its params."""
    topo = lab.topology
    lab.service = dataclasses.replace(
        lab.service, address_agent="ocf:heartbeat:openstack-floating-ip",
        address_params=(f"cloud={MEMBER_CLOUD} ip_id={topo.floating_ip_id} "
                        f"subnet_id={topo.tenant_subnet}"))


def group_layout(crm: str) -> str:
    """fractal.crm in the layout the stock agent's documentation gives: the address then the API
    in a group (one API, started after the address on a failover), default requires
    (fencing first): fractal.crm's layout before issue 17."""
    crm = re.sub(r"(?m)^    meta requires=\w+ \\\n", "", crm)
    own = ("clone fractal-api-clone ", "colocation fractal-ip-with-api ",
           "location fractal-ip-where-api-serves ", "order fractal-api-before-ip ",
           "order fractal-api-before-workers ")
    text = crm.replace("\\\n", "\0")  # a continued statement as one line
    kept = [line for line in text.splitlines() if not line.startswith(own)]
    return ("\n".join(kept).replace("\0", "\\\n")
            + "\ngroup fractal-service fractal-ip fractal-api\n")


def restart_in_place_layout(crm: str) -> str:
    """fractal.crm as it was before the address followed the API's health: no location rule,
    the address ordered after the API clone (Optional), so a failed API on the address's node
    is restarted in place while the address waits there (ours-restart)."""
    text = crm.replace("\\\n", "\0")
    kept = [line for line in text.splitlines()
            if not line.startswith("location fractal-ip-where-api-serves ")]
    return ("\n".join(kept).replace("\0", "\\\n")
            + "\norder fractal-api-before-ip Optional: fractal-api-clone fractal-ip\n")


def no_fence_delay_layout(crm: str) -> str:
    """fractal.crm with fencing not held (pcmk_delay_base=0s): fence_openstack's start and login
    compete with the address's takeover for the CPUs and the cloud (ours-no-fence-delay)."""
    assert crm.count("pcmk_delay_base=2s") == 1, "the fence device's 2 s delay expected"
    return crm.replace("pcmk_delay_base=2s", "pcmk_delay_base=0s")


def no_delays_layout(crm: str) -> str:
    """fractal.crm without transition-delay nor the fence delay: the DC's scheduler may run
    while the node loss's CIB updates are pending, and sleep 1 s (ours-no-delays)."""
    line = "    transition-delay=100ms \\\n"
    assert crm.count(line) == 1, "transition-delay=100ms expected"
    return no_fence_delay_layout(crm.replace(line, ""))


def stock_layout(crm: str) -> str:
    """The stock agent's documented layout (group_layout) with Pacemaker's default fence delay
    (none): held 2 s, the fencing its address waits for would cost it 2 s more."""
    return no_fence_delay_layout(group_layout(crm))


LAYOUTS = {"stock": stock_layout, "ours-restart": restart_in_place_layout,
           "ours-no-fence-delay": no_fence_delay_layout, "ours-no-delays": no_delays_layout,
           "ours-coef650": no_delays_layout}
# Agents whose lab differs: ours-coef650 is corosync's own token coefficient (650 ms a node
# beyond two: the lab's "500 ms" token ran at 1150 ms before corosync_conf set it to 0), with
# no delays: the lab before 2026-12-04.
LAB_OPTIONS: dict[str, dict[str, int]] = {"ours-coef650": {"token_coefficient_ms": 650}}


def service_resource(agent: str) -> str:
    """What an operator moves: the group in the stock layout, else the address."""
    return "fractal-service" if agent == "stock" else "fractal-ip"


def load_stock_extras(lab: Lab, agent: str) -> None:
    path = lab.dir / "stock-openstack.crm"
    path.write_text(Template(STOCK_CRM.read_text()).substitute(
        cloud=lab.service.cloud, service=service_resource(agent)))
    lab.nodes[0].exec(["crm", "configure", "load", "update", str(path)])


class Metadata:
    """169.254.169.254 in the router's namespace (on lo: the nodes' default route leads there)."""

    def __init__(self, lab: Lab) -> None:
        topo = lab.topology
        by_address = {topo.addresses[n.name]: {"uuid": topo.servers[n.name], "name": n.name,
                                               "availability_zone": "nova",
                                               "project_id": topo.project_id}
                      for n in lab.nodes}
        router = lab.net.router
        subprocess.run(["ip", "netns", "exec", router, "ip", "addr", "replace",
                        f"{METADATA_ADDRESS}/32", "dev", "lo"], check=True)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", router, sys.executable, "-c", METADATA, METADATA_ADDRESS,
             json.dumps(by_address)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


# -- the lab ---------------------------------------------------------------------------------
def wait_until(check, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def api_node(lab: Lab) -> str:
    """The serving node: the address's (in every layout its API instance serves)."""
    state = wait_until(lambda: (s := lab.status()) and s.serving("fractal-ip") and s, 60,
                       "the address to be placed")
    return state.serving("fractal-ip")[0]


def up(lab: Lab, agent: str, say) -> Metadata | None:
    lab.boot(progress=say)
    lab.wait_formed()
    metadata = None
    if agent.startswith("stock"):
        metadata = Metadata(lab)
        stock_service(lab)
    lab.configure(LAYOUTS.get(agent, lambda crm: crm))
    if agent.startswith("stock"):
        load_stock_extras(lab, agent)
    wait_until(lambda: lab.client("GET", "/healthz"), 240, "the API at the service address", 1)
    lab.settle(timeout=240)
    return metadata


def heal(lab: Lab) -> None:
    """Back to a whole, quiet cluster: every node on, failures forgotten, nothing pending."""
    for node in lab.nodes:
        lab.isolate(node.name, cut=False)  # the cable back first (isolation)
    operations.boot_the_fenced(lab)
    lab.wait_formed(timeout=180)
    operations.clear_failures(lab, timeout=240)
    wait_until(lambda: lab.client("GET", "/healthz"), 60, "the service after healing", 0.5)


# -- phases from the DC's log ----------------------------------------------------------------
# Pacemaker 2.1 log lines: "Nov 25 11:09:52.123 n2 pacemaker-controld  [123] (fn) notice: ..."
STAMP = re.compile(r"^(\w{3} +\d+ [\d:]+\.\d+) ")
PHASES = (
    ("node lost", re.compile(r"pacemaker-controld.*Node (\S+) state is now lost")),
    ("DC elected", re.compile(r"pacemaker-controld.*State transition S_ELECTION -> "
                              r"S_INTEGRATION")),
    ("fencing requested", re.compile(r"pacemaker-controld.*Requesting fencing \(\w+\) "
                                     r"(?:of|targeting) node (\S+)")),
    ("fenced", re.compile(r"pacemaker-controld.*Peer (\S+) was terminated")),
    ("API failure seen", re.compile(r"\(fractal-api_monitor_\d+ on \S+\): expected 'ok' but")),
    *((f"{what} {phase}", re.compile(pattern.format(rsc=rsc)))
      for what, rsc in (("FIP", "fractal-ip"), ("API", "fractal-api"))
      for phase, pattern in (("start sent", r"Initiating start operation {rsc}_start_0 on "),
                             ("started", r"\({rsc}_start_0 on \S+\) confirmed: ok"))),
)


def phases(lab: Lab, dc: str, fault_wall: float) -> dict[str, float]:
    """Seconds from the fault to the first line of each phase after it in `dc`'s log."""
    log = lab.dir / "nodes" / dc / "var-log-pacemaker" / "pacemaker.log"
    year = datetime.fromtimestamp(fault_wall).year
    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        stamp = STAMP.match(line)
        if not stamp:
            continue
        when = datetime.strptime(f"{year} {stamp.group(1)}", "%Y %b %d %H:%M:%S.%f").timestamp()
        if when < fault_wall - 0.5:  # the log is local time, stamped to the millisecond
            continue
        for name, pattern in PHASES:
            if name not in found and pattern.search(line):
                found[name] = round(when - fault_wall, 3)
    return found


# -- trials ----------------------------------------------------------------------------------
def place_on_dc(lab: Lab, agent: str, say) -> None:
    """Move the service to the DC (then clear the move), so that a crash takes the DC too."""
    state = lab.status()
    if state is None or not state.dc or state.serving("fractal-ip") == [state.dc]:
        return
    rsc = service_resource(agent)
    lab.nodes[0].exec(["crm", "resource", "move", rsc, state.dc])
    wait_until(lambda: api_node(lab) == state.dc, 60, f"the address on the DC {state.dc}")
    lab.nodes[0].exec(["crm", "resource", "clear", rsc])
    lab.settle(timeout=240)
    wait_until(lambda: lab.client("GET", "/healthz"), 60, "the service on the DC", 0.5)
    say(f"service placed on the DC {state.dc}")


def trial(lab: Lab, prober: Prober, scenario: str, say) -> dict:
    victim = api_node(lab)
    before = lab.status()
    load = os.getloadavg()[0]
    fault_wall, fault = time.time(), time.monotonic()
    if scenario == "node crash":
        lab.node(victim).crash()
    elif scenario == "isolation":
        lab.isolate(victim)  # its switch port down: the others fence it (off)
    else:
        lab.kill_api(victim)
    # A lost DC costs an election before the survivors schedule anything.
    record: dict = {"victim": victim, "dc_before": before.dc if before else None,
                    "load1": round(load, 2)}
    try:
        wait_until(lambda: prober.recovered(fault), RECOVERY_BOUND, "the service back", 0.1)
    except TimeoutError as exc:
        record["error"] = str(exc)
        return record
    lab.settle(timeout=240)  # probes until the cluster is quiet count too
    record["downtime_s"] = downtime(prober.outcomes(fault), fault)
    state = lab.status()
    record["after"] = api_node(lab)
    if state is not None and state.dc:
        record["dc"] = state.dc
        record["phases_s"] = phases(lab, state.dc, fault_wall)
    say(f"{scenario} of {victim} (DC before: {record['dc_before']}): downtime "
        f"{record['downtime_s']:.2f} s, now on {record['after']} {record.get('phases_s', '')}")
    return record


def handover(lab: Lab, prober: Prober, scenario: str, agent: str, say) -> dict:
    """A planned move or a standby of the serving node: failed probes, longest answer gap."""
    source = api_node(lab)
    target = next(n.name for n in lab.nodes if n.name != source)
    rsc = service_resource(agent)
    began = time.monotonic()
    if scenario == "planned move":
        lab.nodes[0].exec(["crm", "resource", "move", rsc, target])
    else:
        lab.nodes[0].exec(["crm", "node", "standby", source])
    try:
        wait_until(lambda: api_node(lab) != source, 60, "the address moved")
        lab.settle(timeout=240)
        time.sleep(PROBE_TIMEOUT)
        rows = prober.outcomes(began)
    finally:
        undo = (["crm", "resource", "clear", rsc] if scenario == "planned move"
                else ["crm", "node", "online", source])
        lab.nodes[0].exec(undo)
        lab.settle(timeout=240)
    answered = [ended for _, ended, ok in rows if ok]
    gap = max((b - a for a, b in itertools.pairwise(answered)), default=0.0)
    record = {"victim": source, "after": api_node(lab), "requests": len(rows),
              "failed_requests": sum(not ok for *_, ok in rows), "gap_ms": round(gap * 1000)}
    say(f"{scenario} of {source}: {record['failed_requests']} of {record['requests']} probes "
        f"failed, longest gap {record['gap_ms']} ms")
    return record


def source_commit() -> str:
    """The commit measured, "+dirty" when the tree differs from it (others edit it too)."""
    here = Path(__file__).resolve().parent.parent
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True).stdout.strip()
    return head + ("+dirty" if dirty else "")


def service_config(lab: Lab) -> dict[str, str]:
    """What shapes the numbers in the configuration as loaded (fractal.crm changes over time)."""
    text = (lab.dir / "fractal.crm").read_text()
    lines = text.replace("\\\n", " ").splitlines()
    layout = ("group ", "clone fractal-api", "colocation ", "location ", "order ")
    return {"layout": "; ".join(" ".join(ln.split()) for ln in lines if ln.startswith(layout)),
            "fractal-api": next((" ".join(ln.split()) for ln in lines
                                 if ln.startswith("primitive fractal-api ")), ""),
            "fractal-ip": next((" ".join(ln.split()) for ln in lines
                                if ln.startswith("primitive fractal-ip ")), "")}


def keep_logs(lab: Lab, into: Path) -> None:
    """Each node's Pacemaker and service logs, and the cloud's (its services' access logs say
    who called Keystone and compute when: fence_openstack's calls), for a post-mortem."""
    for node in lab.nodes:
        for sub in ("var-log-pacemaker", "var-log-fractal"):
            source = lab.dir / "nodes" / node.name / sub
            if source.exists():
                shutil.copytree(source, into / node.name / sub, dirs_exist_ok=True)
    cloud = lab.dir / "cloud"
    for log in (*cloud.glob("*/*.log"), *cloud.glob("*.log")):
        target = into / "cloud" / log.relative_to(cloud)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(log, target)


def run_agent(agent: str, trials: int, say, logs: Path | None = None,
              until: float = float("inf"), keystone_latency_ms: float = 0,
              scenarios: tuple[str, ...] = SCENARIOS) -> dict:
    """Up to `trials` rounds of every scenario; no new round starts after `until` (monotonic).
    `keystone_latency_ms`: Keystone answers that much later for the whole campaign (a slow
    identity service: every login, fence_openstack's included, and Neutron's token checks)."""
    lab_dir = Path(tempfile.mkdtemp(prefix=f"fhb-{agent}-"))
    lab = Lab(lab_dir, prefix=f"fhb{os.getpid()}", **LAB_OPTIONS.get(agent, {}))
    metadata = prober = None
    results: dict[str, list[dict]] = {s: [] for s in scenarios}
    config: dict[str, str] = {}
    try:
        started = time.monotonic()
        metadata = up(lab, agent, say)
        say(f"{agent}: lab up in {time.monotonic() - started:.0f} s")
        config = service_config(lab)
        prober = Prober(lab, lab_dir / "probes.log")
        if keystone_latency_ms:
            control.inject(lab.cloud, "keystone", latency_ms=keystone_latency_ms)
        for i in range(trials):
            if time.monotonic() > until:
                say(f"{agent}: time budget spent after {i} rounds")
                break
            tag = f"{agent} #{i + 1}"
            said = lambda m, tag=tag: say(f"{tag}: {m}")  # noqa: E731
            for scenario in results:
                if scenario in HANDOVERS:
                    results[scenario].append(handover(lab, prober, scenario, agent, said))
                    continue
                if scenario == "node crash" and i % 2:
                    place_on_dc(lab, agent, said)
                results[scenario].append(trial(lab, prober, scenario, said))
                heal(lab)
    finally:
        for proc in (prober, metadata):
            if proc is not None:
                proc.stop()
        if logs is not None:
            keep_logs(lab, logs / agent)
        lab.down()
        shutil.rmtree(lab_dir, ignore_errors=True)
    return {"config": config, "trials": results}


# -- report ----------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: with 5 samples p95 is the max)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * q // 100) - 1))]


def summary(records: list[dict]) -> dict:
    times = [r["downtime_s"] for r in records if r.get("downtime_s") is not None]
    if not times:
        return {"n": 0, "failed": len(records)}
    return {"n": len(times), "failed": len(records) - len(times),
            "p50": round(statistics.median(times), 2), "p95": round(percentile(times, 95), 2),
            "max": round(max(times), 2)}


def phase_medians(records: list[dict]) -> dict[str, float]:
    names = [name for name, _ in PHASES]
    out = {}
    for name in names:
        values = [r["phases_s"][name] for r in records if name in r.get("phases_s", {})]
        if values:
            out[name] = round(statistics.median(values), 2)
    return out


def by_dc(records: list[dict]) -> dict[str, list[dict]]:
    """Node crashes split by whether the crashed node was the DC."""
    return {"node crash, DC": [r for r in records if r["victim"] == r.get("dc_before")],
            "node crash, not DC": [r for r in records if r["victim"] != r.get("dc_before")]}


def handover_summary(records: list[dict]) -> dict:
    failed = [r["failed_requests"] for r in records]
    gaps = [r["gap_ms"] for r in records]
    return {"n": len(records), "failed_requests_max": max(failed, default=None),
            "failed_requests_total": sum(failed), "gap_ms_p50":
            statistics.median(gaps) if gaps else None, "gap_ms_max": max(gaps, default=None)}


def merged(raw: dict, config: dict) -> tuple[dict, dict]:
    """This run's agents, and the other agents' trials from the last results/failover.json."""
    try:
        last = json.loads((RESULTS / "failover.json").read_text())
    except (OSError, ValueError):
        return raw, config
    keep = {a: r for a, r in last.get("raw", {}).items() if a not in raw}
    # an agent measured in some scenarios only keeps its last trials of the others
    raw = {a: {**last.get("raw", {}).get(a, {}), **r} for a, r in raw.items()}
    return {**keep, **raw}, {**{a: last["config"].get(a, {}) for a in keep}, **config}


def report(raw: dict, configs: dict, trials: int, keystone_latency_ms: float) -> dict:
    crashes = {a: {"node crash": by.get("node crash", []), **by_dc(by.get("node crash", []))}
               for a, by in raw.items()}
    stats = {a: {**{s: summary(r) for s, r in crashes[a].items()},
                 "API SIGKILL": summary(by.get("API SIGKILL", [])),
                 "isolation": summary(by.get("isolation", [])),
                 **{s: handover_summary(by.get(s, [])) for s in HANDOVERS}}
             for a, by in raw.items()}
    stats_phases = {a: {s: phase_medians(r) for s, r in crashes[a].items()} for a in raw}
    rows = []
    for scenario in (*crashes[next(iter(raw))], "API SIGKILL", "isolation"):
        for agent in raw:
            s = stats[agent][scenario]
            rows.append([scenario, agent, f"{s['n']}/{s['n'] + s['failed']}",
                         *(f"{s[k]:.2f}" if k in s else "-" for k in ("p50", "p95", "max"))])
    note = ""
    if {"ours", "stock"} <= raw.keys():
        a, b = stats["ours"]["node crash"], stats["stock"]["node crash"]
        if "p50" in a and "p50" in b:
            note += f"Node crash p50: stock / ours = {b['p50'] / a['p50']:.1f}×. "
    note += "Planned move and standby (a probe every 50 ms = 20 requests/s): " + "; ".join(
        f"{agent} {s}: failed requests max {stats[agent][s]['failed_requests_max']} per move "
        f"({stats[agent][s]['n']} moves), longest gap p50 {stats[agent][s]['gap_ms_p50']} ms, "
        f"max {stats[agent][s]['gap_ms_max']} ms"
        for agent in raw for s in HANDOVERS if stats[agent][s]["n"]) + ". "
    note += ("Median phases of a node crash, seconds after the fault (the DC's pacemaker.log "
             "after the fault): " + "; ".join(
                 f"{agent}, {s}: " + ", ".join(f"{k} {v}" for k, v in p[s].items())
                 for agent, p in stats_phases.items() for s in p if s != "node crash") + ".")
    name = (f"failover-keystone-{keystone_latency_ms:g}ms" if keystone_latency_ms
            else "failover")
    loads = {a: [r["load1"] for rs in by.values() for r in rs if "load1" in r]
             for a, by in raw.items()}
    write(name, {"commit": source_commit(), "trials": trials,
                 "keystone_latency_ms": keystone_latency_ms,
                 "probe_every_s": PROBE_EVERY, "probe_timeout_s": PROBE_TIMEOUT,
                 "summary": stats, "phase_medians_s": stats_phases, "config": configs,
                 "load1_median": {a: statistics.median(v) for a, v in loads.items() if v},
                 "raw": raw},
          rows, ["scenario", "agent", "trials ok", "p50 s", "p95 s", "max s"], note=note)
    return stats


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--agents", default="ours,stock,stock-clone")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other agents' trials from results/failover.json")
    parser.add_argument("--logs", type=Path, help="keep the nodes' logs here")
    parser.add_argument("--keystone-latency-ms", type=float, default=0,
                        help="Keystone this much slower throughout (results: "
                             "failover-keystone-<ms>ms)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated, of: {', '.join(SCENARIOS)}")
    parser.add_argument("--budget-min", type=float, default=0,
                        help="start no new round after this share of minutes per agent")
    args = parser.parse_args(argv if argv is not None else [])
    t0 = time.monotonic()
    # SIGTERM (timeout, an operator) must still run the `finally` that takes the lab down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def say(message: str) -> None:
        print(f"[{time.monotonic() - t0:7.1f}s] {message}", flush=True)

    agents = args.agents.split(",")
    scenarios = tuple(s for s in SCENARIOS if s in args.scenarios.split(","))
    runs = {}
    for n, agent in enumerate(agents, start=1):
        until = t0 + args.budget_min * 60 * n / len(agents) if args.budget_min else float("inf")
        try:
            runs[agent] = run_agent(agent, args.trials, say, args.logs, until,
                                    args.keystone_latency_ms, scenarios)
        except Exception as exc:  # one agent's failure must not lose the others' trials
            say(f"{agent}: FAILED, not reported: {type(exc).__name__}: {exc}")
    if not runs:
        raise SystemExit("no agent ran to the end: nothing to report")
    raw = {agent: run["trials"] for agent, run in runs.items()}
    configs = {agent: run["config"] for agent, run in runs.items()}
    if args.merge:
        raw, configs = merged(raw, configs)
    return report(raw, configs, args.trials, args.keystone_latency_ms)


if __name__ == "__main__":
    main(sys.argv[1:])
