"""Each site's region of the ticket rig (cluster/geo/ticket_lab.py) as a fake cloud in the
arbitrator's namespace (tests/support/fake_cloud.py: Keystone, Swift, Neutron), failing on
demand, and booth's before-acquire handler: the product's fractal-region-check reading each
site's own API settings, as it would on a real site's nodes."""

from __future__ import annotations

import grp
import json
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from cluster.geo.ticket_lab import ARBITRATOR, TICKET, TicketLab
from resource_agents.geo.region_check import REFUSED_FILE
from tests.support.processes import Process, wait_until

REGIONS = {"site-a": ("RegionOne", 5001), "site-b": ("RegionTwo", 5002)}
GRACE_S = 3  # the holder's grace before Object Storage failing gives the ticket up
CLAIM_AFTER_S = 5  # held nowhere this long after a refusal: the site's claimer asks again
REPO = Path(__file__).resolve().parents[2]
BOOTH_USER, BOOTH_GROUP = "hacluster", "haclient"  # booth's defaults on a site


def install(lab: TicketLab) -> None:
    """Each site's settings and clouds.yaml, and the handler (before the rig is up), as booth's
    user (hacluster:haclient, which runs the handler) may use them: the rig's directory
    traversable, clouds.yaml 0640 to haclient, a state directory and a log of its own."""
    lab.dir.chmod(0o755)
    for site in REGIONS:
        _site_files(lab, site)
    _install_handler(lab)
    if lab.claim is not None:
        _install_claim(lab)


def _booths(path: Path, mode: int) -> None:
    uid, gid = pwd.getpwnam(BOOTH_USER).pw_uid, grp.getgrnam(BOOTH_GROUP).gr_gid
    os.chown(path, uid if mode != 0o640 else 0, gid)
    path.chmod(mode)


@contextmanager
def serving(lab: TicketLab) -> Iterator[None]:
    """Both regions' clouds up in the arbitrator's namespace (the rig up)."""
    clouds = []
    try:
        for site, (region, port) in REGIONS.items():
            cloud = Process(["ip", "netns", "exec", lab.names.arbitrator, sys.executable, "-m",
                             "tests.support.fake_cloud", ARBITRATOR, str(port), region],
                            lab.dir / f"{site}-cloud.log", {"PYTHONPATH": str(REPO)})
            cloud.start()
            clouds.append(cloud)
        for site in REGIONS:
            wait_until(lambda s=site: _answers(lab, s), 30, f"{site}'s fake cloud")
        yield
    finally:
        for cloud in clouds:
            cloud.stop()


def faults(lab: TicketLab, site: str, *failing: str) -> None:
    """Make the site's region fail these services (503), or none: asked inside the
    arbitrator's namespace, where its fake cloud listens."""
    url = f"http://{ARBITRATOR}:{REGIONS[site][1]}"
    subprocess.run(["ip", "netns", "exec", lab.names.arbitrator, sys.executable, "-c",
                    "import sys; from tests.support.fake_cloud import set_faults; "
                    "set_faults(sys.argv[1], tuple(sys.argv[2:]))", url, *failing],
                   check=True, capture_output=True, timeout=30, cwd=REPO)


def handler_log(lab: TicketLab, site: str) -> str:
    """What the site's handler logged: to the cluster's log file (booth passes on Pacemaker's
    HA_LOGFILE), anything else on stderr to a file of the rig's."""
    node = lab.sites[site]
    logged = node.exec(["grep", "-h", "fractal-region-check", "/var/log/pacemaker/pacemaker.log"],
                       check=False).stdout if node.running else ""
    path = lab.dir / f"{site}-handler.log"
    return logged + (path.read_text() if path.exists() else "")


def claim_log(lab: TicketLab, site: str) -> str:
    path = lab.dir / f"{site}-claim.log"
    return path.read_text() if path.exists() else ""


def forget_refusals(lab: TicketLab) -> None:
    """No site's earlier refusal carried into the next test (its claimer would act on it)."""
    for site in REGIONS:
        (lab.dir / f"{site}-state" / REFUSED_FILE).unlink(missing_ok=True)


def renewed(lab: TicketLab, site: str) -> bool:
    """The site's handler has checked a renewal of the site's current grant (its state names
    the CIB's last-granted): from then on it is lenient, until the grace."""
    try:
        grant = json.loads((lab.dir / f"{site}-state" / "state.json").read_text())["grant"]
    except (OSError, ValueError, KeyError):
        return False
    done = lab.sites[site].exec(["crm_ticket", "--ticket", TICKET, "--get-attr",
                                 "last-granted"], check=False)
    return grant is not None and done.returncode == 0 and done.stdout.strip() == grant


def _answers(lab: TicketLab, site: str) -> bool:
    try:
        faults(lab, site)
    except subprocess.CalledProcessError:
        return False
    return True


def _site_files(lab: TicketLab, site: str) -> None:
    """The site's API settings (its store in its own region) and clouds.yaml."""
    region, port = REGIONS[site]
    clouds = lab.dir / f"{site}-clouds.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {"fractal": {
        "auth": {"auth_url": f"http://{ARBITRATOR}:{port}/identity", "username": "fractal",
                 "password": "secret", "project_name": "fractal",
                 "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": region, "identity_api_version": 3}}}))
    _booths(clouds, 0o640)
    state = lab.dir / f"{site}-state"
    state.mkdir()
    _booths(state, 0o700)
    log = lab.dir / f"{site}-handler.log"
    log.touch()
    _booths(log, 0o600)
    (lab.dir / f"{site}.toml").write_text(
        f'store = "swift://fractal/fractal?region={region}&config={clouds}"\n'
        f"[region_check]\ngrace_seconds = {GRACE_S}\nbudget_seconds = 3\n"
        f"claim_after_seconds = {CLAIM_AFTER_S}\n"
        f'state_dir = "{state}"\n')


def _install_handler(lab: TicketLab) -> None:
    assert lab.handler is not None, "the rig was made without before_acquire"
    lab.handler.write_text(
        "#!/bin/sh\n# booth's before-acquire handler: this site's settings, by booth's "
        "configuration name\n"
        f"export PYTHONPATH={REPO}\n"
        f'exec {sys.executable} -m resource_agents.geo.region_check "{lab.dir}/'
        f'$BOOTH_CONF_NAME.toml" 2>>"{lab.dir}/$BOOTH_CONF_NAME-handler.log"\n')
    lab.handler.chmod(0o755)


def _install_claim(lab: TicketLab) -> None:
    """The product's fractal-ticket-claim for the site named by its argument: the site's API
    settings and booth configuration, its log (stderr) in a file of the rig's."""
    assert lab.claim is not None
    lab.claim.write_text(
        "#!/bin/sh\n# the site's ticket claimer: SITE as the only argument\n"
        f"export PYTHONPATH={REPO} HA_LOGFACILITY=none\nunset HA_LOGFILE HA_DEBUGLOG\n"
        f'exec {sys.executable} -m resource_agents.geo.ticket_claim "{lab.dir}/$1.toml" '
        f'--booth-config "{lab.dir}/$1.conf" 2>>"{lab.dir}/$1-claim.log"\n')
    lab.claim.chmod(0o755)
