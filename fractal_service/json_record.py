"""Small JSON records kept on disk (cached logins, tokens): written atomically and private,
validated field by field on read, so a corrupt, foreign or hand-edited file is discarded with
a reason instead of being trusted."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Collection, Mapping
from typing import Any

Kinds = type | tuple[type, ...]


def load(path: str, types: Mapping[str, Kinds], what: str,
         optional: Collection[str] = ()) -> tuple[dict[str, Any] | None, str]:
    """(the record, "") or (None, why it is not usable; "" when there is none). A record has
    exactly the fields of `types`, each of its kinds (a bool is no number), but those named
    `optional` may be missing (None then: a record an older version wrote)."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError) as exc:
        return None, f"unreadable ({type(exc).__name__})"
    if not isinstance(data, dict) or not set(types) - set(optional) <= set(data) <= set(types):
        return None, f"not a {what}"
    data = {**dict.fromkeys(optional), **data}
    wrong = [name for name, kinds in types.items() if not _is(data[name], kinds)]
    if wrong:
        return None, f"wrong types in {', '.join(wrong)}"
    return data, ""


def _is(value: object, kinds: Kinds) -> bool:
    allowed = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)


def save(path: str, record: Mapping[str, Any], owner: tuple[int, int] | None = None) -> None:
    """Atomically, mode 0600 (it may hold a token), its directory 0700 if made here; `owner`
    (uid, gid): for a service's user, when root writes it."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(dict(record), fh)
        if owner is not None:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
