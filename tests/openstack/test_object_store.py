"""Object Storage (real Swift with Keystone auth) through openstacksdk and clouds.yaml, as the
cluster's member user: what the Fractal store backend relies on."""

from __future__ import annotations

import hashlib
import secrets

import pytest
import requests
from openstack import exceptions

from cluster.openstack import clouds
from cluster.openstack.faults import control
from cluster.openstack.layout import MEMBER_CLOUD

pytestmark = pytest.mark.openstack


@pytest.fixture(scope="module")
def member(lab_cloud):
    return clouds.connect(lab_cloud.layout, MEMBER_CLOUD)


@pytest.fixture
def container(member):
    """A fresh container, deleted with its objects afterwards."""
    name = f"test-{secrets.token_hex(4)}"
    member.object_store.create_container(name)
    yield name
    for found in member.object_store.objects(name):
        member.object_store.delete_object(found, container=name)
    member.object_store.delete_container(name)


def listing(member, container: str, **params) -> list[str]:
    """One listing request, exactly as asked (the SDK's objects() pages through everything)."""
    answer = member.object_store.get(f"/{container}", params={"format": "json", **params})
    assert answer.status_code == 200, answer.text
    return [entry["name"] for entry in answer.json()]


def test_put_get_list_with_metadata(member, container):
    body = secrets.token_bytes(1000)
    member.object_store.upload_object(container, "fractals/one.png", data=body,
                                      metadata={"kind": "julia", "width": "512"},
                                      content_type="image/png")
    shown = member.object_store.get_object_metadata("fractals/one.png", container)
    assert shown.metadata == {"kind": "julia", "width": "512"}
    assert shown.etag == hashlib.md5(body).hexdigest()  # Swift's ETag: the content's MD5
    assert shown.content_type == "image/png"
    assert int(shown.content_length) == len(body)
    assert member.object_store.download_object("fractals/one.png", container) == body
    assert [o.name for o in member.object_store.objects(container)] == ["fractals/one.png"]
    assert member.object_store.get_container_metadata(container).object_count == 1


def test_metadata_is_replaced_by_a_post(member, container):
    member.object_store.upload_object(container, "x", data=b"x", metadata={"a": "1", "b": "2"})
    member.object_store.set_object_metadata("x", container, c="3")
    assert member.object_store.get_object_metadata("x", container).metadata["c"] == "3"


def test_if_none_match_star_creates_once_then_412(member, container):
    member.object_store.upload_object(container, "once", data=b"first",
                                      **{"If-None-Match": "*"})
    with pytest.raises(exceptions.HttpException) as refused:
        member.object_store.upload_object(container, "once", data=b"second",
                                          **{"If-None-Match": "*"})
    assert refused.value.status_code == 412
    assert member.object_store.download_object("once", container) == b"first"


def test_listing_prefix_marker_limit(member, container):
    names = [f"a/{i:02d}" for i in range(5)] + ["b/00", "b/01"]
    for name in reversed(names):  # listed by name, whatever the upload order
        member.object_store.upload_object(container, name, data=name.encode())
    assert listing(member, container) == names
    assert listing(member, container, prefix="b/") == ["b/00", "b/01"]
    assert listing(member, container, prefix="a/", limit=2) == ["a/00", "a/01"]
    assert listing(member, container, prefix="a/", marker="a/01", limit=2) == ["a/02", "a/03"]
    assert listing(member, container, marker="a/04") == ["b/00", "b/01"]
    assert listing(member, container, prefix="c/") == []


def test_deleted_object_is_gone(member, container):
    member.object_store.upload_object(container, "gone", data=b"x")
    member.object_store.delete_object("gone", container=container)
    with pytest.raises(exceptions.NotFoundException):
        member.object_store.download_object("gone", container)


def test_other_projects_cannot_read_the_members_account(lab_cloud, member, container):
    member.object_store.upload_object(container, "private", data=b"x")
    url = f"{member.object_store.get_endpoint()}/{container}/private"
    admin = clouds.connect(lab_cloud.layout)  # admin of another project, not a reseller
    answer = admin.session.get(url, raise_exc=False)
    assert answer.status_code == 403


def test_anonymous_requests_are_refused(member, container):
    url = f"{member.object_store.get_endpoint()}/{container}"
    answer = requests.get(url, timeout=30)  # a plain client: no token at all
    assert answer.status_code == 401


def test_faults_reach_object_store_clients(lab_cloud, member, container):
    try:
        control.inject(lab_cloud.layout, "object-store", error_rate=1, error_status=503)
        with pytest.raises(exceptions.HttpException) as failed:
            member.object_store.download_object("anything", container)
        assert failed.value.status_code == 503
    finally:
        control.clear(lab_cloud.layout, "object-store")
    assert listing(member, container) == []
