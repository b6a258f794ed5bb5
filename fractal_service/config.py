"""Service settings: defaults < config file (TOML) < environment (FRACTAL_*) < flags."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from fractal_service import lease
from fractal_service.params import Limits

STORE_SCHEMES = ("sqlite", "swift")
AUTH_MODES = ("none", "token", "keystone")  # api/auth.py
# How long the service's clients (CLI, workers) wait for an answer. The API ends each request
# before that (`request_deadline`): a client that gave up and retried must not find its first
# request still holding a store slot.
CLIENT_TIMEOUT = 10.0
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class WorkerTuning:
    """`[worker]`: what fractal-worker reads besides lease_seconds and log_level."""

    concurrency: int = 1  # render loops in one worker process


@dataclass(frozen=True)
class RegionCheck:
    """`[region_check]`: what fractal-region-check (booth's before-acquire handler,
    resource_agents/geo/) reads besides `store` and `data_dir`, in whole seconds."""

    # The ticket's holder gives it up only once its region's Object Storage has failed this
    # long in a row: a blip must not move the service (a move is an outage of its own).
    grace_seconds: int = 15
    # All of one check's cloud calls: well inside booth's renewal period.
    budget_seconds: int = 3
    # booth runs the check as its own user (hacluster): a directory that user may write (the
    # failure's start and the cached token) and a clouds.yaml it may read ("" = the store
    # URL's; a reader's credentials in a 0640 root:haclient file suit it best).
    state_dir: str = "/var/lib/fractal-ha/region-check"
    clouds_yaml: str = ""
    # fractal-ticket-claim asks booth for the ticket again once it has been held nowhere this
    # long after this site's check refused it: booth itself never retries a refused acquire.
    claim_after_seconds: int = 10
    # The site's Keystone is its own (two clouds that share nothing), not one every site
    # shares: its loss then counts against the site as Object Storage's does (a holder keeps
    # the ticket for the grace, an acquirer refuses); shared, it is no evidence either way.
    own_keystone: bool = False


@dataclass(frozen=True)
class Settings:
    bind: str = "127.0.0.1:8080"
    data_dir: Path = Path("/var/lib/fractal")
    # URL; None = SQLite in data_dir. `swift://CLOUD/CONTAINER?config=clouds.yaml` = Object
    # Storage, for several API instances on several nodes (fractal_service/store/swift.py).
    store: str | None = None
    threads: int = 32  # I/O-bound on the store: /healthz must not queue behind slow calls
    # Request threads never given to a store call (api/admission.py): with the store stalled,
    # /healthz and /metrics still answer. Store-bound requests get threads - spare_threads.
    spare_threads: int = 8
    graceful_timeout: float = 30.0
    # Lame duck after SIGTERM (api/drain.py): serve until no request arrived for drain_quiet s,
    # drain_max s at most (a standby's address handover: ~0.3-3 s), within graceful_timeout.
    drain_quiet: float = 1.0
    drain_max: float = 10.0
    # Every request ends within this (504 past it), its store calls bounded by what is left
    # (store/deadline.py); a client's X-Request-Timeout header can only shorten it.
    request_deadline: float = CLIENT_TIMEOUT - 2.0
    # A request reaches a request thread only once it has fully arrived (api/worker_class.py):
    # its headers within header_timeout of the connection's start (or of its previous
    # request), its body at body_min_rate bytes/s at least, after another header_timeout.
    header_timeout: float = 10.0
    body_min_rate: int = 32 * 1024
    lease_seconds: float = float(lease.DEFAULT_SECONDS)
    max_attempts: int = 5
    # Largest accepted upload; a 4096² PNG of a fractal is well under this. A result is also
    # bounded by its own job's size (api/jobs.py).
    max_upload_bytes: int = 64 * 1024 * 1024
    # Largest JSON body: the biggest valid one (fractal parameters) is a few hundred bytes.
    max_json_bytes: int = 64 * 1024
    # Who may write (api/auth.py): "token" = a bearer token from token_file (default
    # data_dir/api-token, made on first start, mode 0600); "keystone" = Keystone tokens checked
    # by keystonemiddleware, configured by keystone_config's [keystone_authtoken]; "none".
    auth: str = "token"
    token_file: Path | None = None
    keystone_config: Path | None = None
    auth_reads: bool = False  # True: GETs of fractals need credentials too (any role)
    creator_role: str = "fractal_creator"  # POST/DELETE /v1/fractals
    worker_role: str = "fractal_worker"  # /v1/jobs
    log_level: str = "info"
    limits: Limits = field(default_factory=Limits)
    worker: WorkerTuning = field(default_factory=WorkerTuning)
    region_check: RegionCheck = field(default_factory=RegionCheck)

    @classmethod
    def load(cls, config_file: Path | None = None, overrides: dict[str, Any] | None = None,
             environ: dict[str, str] | None = None,
             etcd: dict[str, Any] | None = None) -> Settings:
        """`etcd` (fractal_service/settings/) sits between the file and the environment."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        config_file = config_file or _path_or_none(environ.get("FRACTAL_CONFIG"))
        if config_file is not None:
            with open(config_file, "rb") as fh:
                values.update(tomllib.load(fh))
        for name, value in (etcd or {}).items():  # a table's keys one by one
            table = values.get(name)
            values[name] = {**table, **value} if isinstance(table, dict) else value
        for f in fields(cls):
            env = environ.get(f"FRACTAL_{f.name.upper()}")
            if env is not None and not is_dataclass(f.default_factory):
                values[f.name] = env
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Settings:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}")
        settings = cls()
        for name, raw in values.items():
            settings = replace(settings, **{name: _convert(name, raw, getattr(settings, name))})
        if settings.drain_max >= settings.graceful_timeout:
            raise ValueError(f"setting 'drain_max' ({settings.drain_max:g}) must be below "
                             f"'graceful_timeout' ({settings.graceful_timeout:g}): in-flight "
                             "requests finish within what is left of it")
        if settings.spare_threads >= settings.threads:
            raise ValueError(f"setting 'spare_threads' ({settings.spare_threads}) must be below "
                             f"'threads' ({settings.threads})")
        return settings

    @property
    def store_slots(self) -> int:
        return self.threads - self.spare_threads


def _convert(name: str, raw: Any, current: Any) -> Any:
    if is_dataclass(current):  # a table: [limits], [worker], [region_check]
        return _table(name, raw, current)
    try:
        if name == "log_level" and str(raw).lower() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        if name == "log_level":
            return str(raw).lower()
        if name == "data_dir":
            return Path(raw)
        if name in ("token_file", "keystone_config"):
            return Path(raw) if str(raw) else None
        if name == "auth" and str(raw) not in AUTH_MODES:
            raise ValueError(f"must be one of {', '.join(AUTH_MODES)}")
        if name == "store":
            url = str(raw) or None
            # Caught at load time, not on the first request: a typo must stop the API at once.
            if url is not None and url.split(":", 1)[0] not in STORE_SCHEMES:
                raise ValueError(f"unsupported store URL {url!r} (sqlite:… or swift://…)")
            return url
        if name == "lease_seconds":
            # Every claim without its own length gets this one: outside the range the API
            # accepts from workers, every such claim would be refused (api/jobs.py).
            value = float(raw)
            if not lease.MIN_SECONDS <= value <= lease.MAX_SECONDS:
                raise ValueError(f"must be between {lease.MIN_SECONDS} and {lease.MAX_SECONDS}")
            return value
        if isinstance(current, bool):
            return str(raw).lower() in ("1", "true", "yes", "on")
        if isinstance(current, int | float):
            value = type(current)(raw)
            if value <= 0:
                raise ValueError("must be positive")
            return value
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"setting {name!r}: {exc}") from exc


def _table(name: str, raw: Any, current: Any) -> Any:
    if not isinstance(raw, dict):
        raise ValueError(f"setting {name!r} is a table ([{name}]), not a value")
    known = {f.name for f in fields(current)}
    for key, value in dict(raw).items():
        if key not in known:
            raise ValueError(f"unknown setting '{name}.{key}'")
        if isinstance(getattr(current, key), bool):  # before int: a bool is an int
            if not isinstance(value, bool):
                raise ValueError(f"setting '{name}.{key}': must be true or false")
            current = replace(current, **{key: value})
            continue
        if isinstance(getattr(current, key), str):
            if not isinstance(value, str):
                raise ValueError(f"setting '{name}.{key}': must be a string")
            current = replace(current, **{key: value})
            continue
        try:
            number = int(value)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("must be an integer")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"setting '{name}.{key}': must be an integer") from exc
        if number <= 0:
            raise ValueError(f"setting '{name}.{key}': must be positive")
        current = replace(current, **{key: number})
    return current


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None
