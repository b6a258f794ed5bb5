"""The lab's recorded ports stay outside the kernel's ephemeral range (CI once lost Keystone's
recorded port to an outgoing loopback connection: "Address already in use")."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cluster import ports
from cluster.openstack.layout import Layout


def test_every_recorded_port_lies_below_the_ephemeral_range(tmp_path: Path) -> None:
    chosen = Layout.at(tmp_path).ports()
    low = ports._ephemeral_low()
    assert all(port < low for port in chosen.values()), chosen
    assert len(set(chosen.values())) == len(chosen), "two services share a port"


def test_a_bound_port_is_never_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", ports.LOWEST))
        monkeypatch.setattr(ports, "_ephemeral_low", lambda: ports.LOWEST + 2)
        assert ports.free_port() == ports.LOWEST + 1
        with pytest.raises(RuntimeError, match="no free port"):
            ports.free_port(taken={ports.LOWEST + 1})


def test_no_room_below_the_ephemeral_range_is_a_clear_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "_ephemeral_low", lambda: 1024)
    with pytest.raises(RuntimeError, match="ephemeral port range"):
        ports.free_port()
