"""Logging as the cluster expects it (the semantics of ocf_log and ocf_exit_reason).

- The exit reason goes to stderr prefixed `ocf-exit-reason:` (OCF_EXIT_REASON_PREFIX); Pacemaker
  picks it up and shows it in crm_mon as the failure's reason. It is logged as an error too.
- Messages go to syslog when HA_LOGFACILITY is set (and not "none"), to HA_LOGFILE when set,
  to HA_DEBUGLOG for debug lines, and to stderr on a terminal or when no other sink exists
  (Pacemaker's executor logs an agent's stderr). HA_debug=1 enables debug messages.
"""

from __future__ import annotations

import logging
import os
import sys
import syslog
import time

_FACILITIES = {name: getattr(syslog, f"LOG_{name.upper()}") for name in (
    "daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7")}
_PRIORITY = {logging.DEBUG: syslog.LOG_DEBUG, logging.INFO: syslog.LOG_INFO,
             logging.WARNING: syslog.LOG_WARNING, logging.ERROR: syslog.LOG_ERR,
             logging.CRITICAL: syslog.LOG_CRIT}


class _SyslogHandler(logging.Handler):
    """The libc syslog(3) call, like the shell agents' `logger`: no socket path to guess."""

    def __init__(self, ident: str, facility: int) -> None:
        super().__init__()
        syslog.openlog(ident, syslog.LOG_PID, facility)

    def emit(self, record: logging.LogRecord) -> None:
        syslog.syslog(_PRIORITY.get(record.levelno, syslog.LOG_INFO),
                      self.format(record).replace("\x00", " "))


def setup(agent: str, instance: str, environ: dict[str, str] | None = None) -> logging.Logger:
    env = os.environ if environ is None else environ
    debug = env.get("HA_debug", env.get("HA_DEBUG", "0")) not in ("", "0", "false", "no")
    tag = f"{agent}({instance})"
    logger = logging.getLogger(f"ocf.{agent}")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    plain = logging.Formatter(f"{tag}[%(process)d]: %(levelname)s: %(message)s")
    dated = logging.Formatter(
        f"{tag}[%(process)d]:\t%(asctime)s %(levelname)s: %(message)s",
        datefmt=env.get("HA_DATEFMT", "%b %d %T").replace("%T", "%H:%M:%S"))
    dated.converter = time.localtime

    facility = env.get("HA_LOGFACILITY", "")
    if facility and facility != "none" and facility in _FACILITIES:
        handler: logging.Handler = _SyslogHandler(tag, _FACILITIES[facility])
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)
    for key, level in (("HA_LOGFILE", logging.DEBUG), ("HA_DEBUGLOG", logging.DEBUG)):
        path = env.get(key)
        if path and not any(getattr(h, "baseFilename", None) == os.path.abspath(path)
                            for h in logger.handlers):
            try:
                handler = logging.FileHandler(path)
            except OSError:
                continue  # an unwritable log file must not fail the action
            handler.setLevel(level if key == "HA_DEBUGLOG" else logging.INFO)
            handler.setFormatter(dated)
            logger.addHandler(handler)
    if sys.stderr.isatty() or not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(plain)
        logger.addHandler(handler)
    return logger


def exit_reason(logger: logging.Logger, reason: str, environ: dict[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    prefix = env.get("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:")
    sys.stderr.write(f"{prefix}{reason}\n")
    sys.stderr.flush()
    logger.error("%s", reason)
