"""Compute API version discovery and microversion negotiation (as Nova answers them)."""

from __future__ import annotations

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 96)
UPDATED = "2013-07-23T11:33:21Z"


class VersionNotSupported(ValueError):
    pass


def _text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def document(root: str) -> dict:
    links = [{"rel": "self", "href": f"{root}/v2.1/"}]
    return {"id": "v2.1", "status": "CURRENT", "version": _text(MAX_VERSION),
            "min_version": _text(MIN_VERSION), "updated": UPDATED, "links": links,
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


def all_versions(root: str) -> dict:
    legacy = {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
              "updated": "2011-01-21T11:33:21Z", "links": [{"rel": "self", "href": f"{root}/v2/"}]}
    return {"versions": [legacy, document(root)]}


def negotiate(headers) -> tuple[int, int]:
    """The microversion a request asks for (OpenStack-API-Version or the legacy header)."""
    asked = None
    modern = headers.get("OpenStack-API-Version", "")
    if modern.lower().startswith("compute "):
        asked = modern.split(None, 1)[1].strip()
    asked = asked or headers.get("X-OpenStack-Nova-API-Version")
    if not asked:
        return MIN_VERSION
    if asked.lower() == "latest":
        return MAX_VERSION
    try:
        major, minor = (int(part) for part in asked.split("."))
    except ValueError:
        raise VersionNotSupported(f"Invalid API version request: {asked!r}") from None
    if not MIN_VERSION <= (major, minor) <= MAX_VERSION:
        raise VersionNotSupported(f"Version {asked} is not supported by the API. Minimum is "
                                  f"{_text(MIN_VERSION)} and maximum is {_text(MAX_VERSION)}.")
    return major, minor


def header_value(version: tuple[int, int]) -> str:
    return _text(version)
