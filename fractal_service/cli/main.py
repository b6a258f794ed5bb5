"""`fractal`: create, list, show, download and delete fractals from the command line."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from fractal_service import credentials
from fractal_service.cli import config_cmd
from fractal_service.cli.progress import Progress
from fractal_service.client import ApiError, ApiUnreachable, FractalClient
from fractal_service.config import CLIENT_TIMEOUT
from fractal_service.params import FIELDS, KINDS

EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
TERMINAL = ("done", "failed")
WAIT_PAGE = 1000  # the API's largest page


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fractal", description=__doc__)
    p.add_argument("--api", default=os.environ.get("FRACTAL_API", "http://127.0.0.1:8080"),
                   help="the API's base URL (env FRACTAL_API)")
    p.add_argument("--timeout", type=float, default=CLIENT_TIMEOUT,
                   help="HTTP timeout in seconds")
    p.add_argument("--retry-for", type=float, default=60.0,
                   help="seconds to keep retrying, with backoff, a request that got no answer "
                        "or a 5xx/429 (reads, and creations: each has an Idempotency-Key)")
    credentials.add_options(p)
    sub = p.add_subparsers(dest="command", required=True)

    create = sub.add_parser("create", help="create fractals (queued for the workers)")
    create.add_argument("--kind", choices=KINDS, default="mandelbrot")
    for spec in FIELDS:
        create.add_argument(f"--{spec.name.replace('_', '-')}", dest=spec.name, type=spec.type,
                            help=spec.description)
    create.add_argument("--count", type=int, default=1, help="how many to create")
    create.add_argument("--random", action="store_true",
                        help="random kind, size and window for each (like the tutorial's faafo)")
    create.add_argument("--wait", action="store_true", help="wait until all are done or failed")
    create.add_argument("--wait-timeout", type=float, default=600.0)

    lst = sub.add_parser("list", help="list fractals")
    lst.add_argument("--state", choices=("pending", "running", "done", "failed"))
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--all", action="store_true", help="every page, not just the first")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")

    show = sub.add_parser("show", help="show one fractal")
    show.add_argument("uuid")

    get = sub.add_parser("get", help="download a fractal's PNG")
    get.add_argument("uuid")
    get.add_argument("-o", "--output", type=Path, help="file to write (default UUID.png)")

    delete = sub.add_parser("delete", help="delete fractals")
    delete.add_argument("uuids", nargs="+")
    config_cmd.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "config":  # etcd, not the API
        return config_cmd.run(args)
    try:
        auth = credentials.from_options(args)
    except ValueError as exc:
        print(f"fractal: {exc}", file=sys.stderr)
        return EXIT_USAGE
    client = FractalClient(args.api, timeout=args.timeout, retry_for=args.retry_for, auth=auth)
    try:
        return COMMANDS[args.command](client, args)
    except ApiUnreachable as exc:
        print(f"fractal: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ApiError as exc:
        print(f"fractal: {exc}", file=sys.stderr)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        print("fractal: interrupted", file=sys.stderr)
        return 130


def cmd_create(client: FractalClient, args: argparse.Namespace) -> int:
    if args.count < 1:
        print("fractal: --count must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    explicit = {s.name: getattr(args, s.name) for s in FIELDS if getattr(args, s.name) is not None}
    progress = Progress("creating", args.count) if args.count > 1 else None
    uuids = []
    for i in range(args.count):
        params = {**(random_params() if args.random else {"kind": args.kind}), **explicit}
        created = client.create(params)
        uuids.append(created["uuid"])
        if progress:
            progress.update(i + 1)
        else:
            print(json.dumps(created, indent=2))
    if progress:
        progress.finish()
        print("\n".join(uuids))
    return wait_for(client, uuids, args.wait_timeout) if args.wait else 0


def wait_for(client: FractalClient, uuids: list[str], timeout: float) -> int:
    progress = Progress("rendering", len(uuids))
    pending = set(uuids)
    failed = 0
    deadline = time.monotonic() + timeout
    while pending:
        for uuid, state in _poll(client, pending).items():
            pending.discard(uuid)
            failed += state != "done"
        progress.update(len(uuids) - len(pending), f"failed {failed}" if failed else "")
        if not pending:
            break
        if time.monotonic() > deadline:
            progress.finish()
            print(f"fractal: {len(pending)} not done after {timeout:.0f} s", file=sys.stderr)
            return EXIT_API_ERROR
        time.sleep(0.5)
    progress.finish()
    return EXIT_API_ERROR if failed else 0


def _poll(client: FractalClient, pending: set[str]) -> dict[str, str]:
    """One list request: the finished among `pending` (state "gone" if deleted meanwhile).

    The listing is in uuid (= creation) order and starts just below the oldest one still
    pending, so a page covers our fractals and whatever others created between them; the
    next poll continues from the oldest one still pending.
    """
    oldest = min(pending)
    page = client.page(limit=WAIT_PAGE, marker=str(UUID(int=UUID(oldest).int - 1)))
    seen = {f["uuid"]: f["state"] for f in page["fractals"]}
    covered = max(seen, default=oldest) if page["next_marker"] else None
    finished = {u: s for u, s in seen.items() if u in pending and s in TERMINAL}
    # Listed up to `covered` (everything, when there is no next page) but not there: deleted.
    finished.update({u: "gone" for u in pending - seen.keys()
                     if covered is None or u <= covered})
    return finished


def random_params() -> dict[str, Any]:
    kind = random.choice(KINDS)
    params: dict[str, Any] = {
        "kind": kind,
        "width": random.randint(256, 1024),
        "height": random.randint(256, 1024),
        "iterations": random.randint(128, 512),
    }
    if kind == "julia":
        params |= {"c_re": random.uniform(-0.9, 0.4), "c_im": random.uniform(-0.7, 0.7)}
    return params


def cmd_list(client: FractalClient, args: argparse.Namespace) -> int:
    if args.all:
        rows = list(client.iterate(state=args.state))
    else:
        rows = _first(client, args.limit, args.state)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print(f"{'uuid':<36}  {'kind':<10}  {'size':>9}  {'iter':>5}  {'state':<7}  "
          f"{'duration':>8}  generated_by")
    for r in rows:
        duration = f"{r['duration']:.2f}s" if r["duration"] is not None else "-"
        print(f"{r['uuid']:<36}  {r['kind']:<10}  {r['width']:>4}x{r['height']:<4}  "
              f"{r['iterations']:>5}  {r['state']:<7}  {duration:>8}  {r['generated_by'] or '-'}")
    return 0


def _first(client: FractalClient, limit: int, state: str | None) -> list[dict[str, Any]]:
    """The first `limit` fractals: a page may end early (Object Storage bounds the work of a
    filtered page) and say where to go on from."""
    rows: list[dict[str, Any]] = []
    marker = None
    while len(rows) < limit:
        page = client.page(limit=limit - len(rows), marker=marker, state=state)
        rows += page["fractals"]
        marker = page["next_marker"]
        if marker is None:
            break
    return rows


def cmd_show(client: FractalClient, args: argparse.Namespace) -> int:
    print(json.dumps(client.show(args.uuid), indent=2))
    return 0


def cmd_get(client: FractalClient, args: argparse.Namespace) -> int:
    output = args.output or Path(f"{args.uuid}.png")
    png = client.image(args.uuid)
    output.write_bytes(png)
    print(f"{output} ({len(png)} bytes)")
    return 0


def cmd_delete(client: FractalClient, args: argparse.Namespace) -> int:
    for uuid in args.uuids:
        client.delete(uuid)
        print(f"deleted {uuid}")
    return 0


COMMANDS = {"create": cmd_create, "list": cmd_list, "show": cmd_show, "get": cmd_get,
            "delete": cmd_delete}


if __name__ == "__main__":
    sys.exit(main())
