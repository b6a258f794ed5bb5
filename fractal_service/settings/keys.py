"""etcd keys ↔ the TOML file's names: PREFIX + `lease_seconds`, PREFIX + `limits/max_work`."""

from __future__ import annotations

from typing import Any

from fractal_service.config import Settings

PREFIX = "/fractal/config/"


def name_of(key: str, prefix: str = PREFIX) -> str:
    """`/fractal/config/limits/max_work` → `limits.max_work`."""
    return key[len(prefix):].replace("/", ".")


def key_of(name: str, prefix: str = PREFIX) -> str:
    return prefix + name.replace(".", "/")


def to_mapping(values: dict[str, str]) -> dict[str, Any]:
    """{"limits.max_work": "5"} → {"limits": {"max_work": "5"}}, as the TOML file nests it."""
    mapping: dict[str, Any] = {}
    for name, value in values.items():
        table, dot, leaf = name.partition(".")
        if dot:
            if "." in leaf:
                raise ValueError(f"unknown setting {name!r}")
            entry = mapping.setdefault(table, {})
            if not isinstance(entry, dict):
                raise ValueError(f"setting {table!r} is a table, not a value")
            entry[leaf] = value
        else:
            mapping[name] = value
    return mapping


def validate(values: dict[str, str]) -> Settings:
    """The TOML file's rules (config.Settings) over defaults; ValueError names the field."""
    return Settings.from_mapping(to_mapping(values))
