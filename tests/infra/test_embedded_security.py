"""The embedded SeaweedFS lets no one but the platform at the data: an object put through the
S3 gateway with the home's keys cannot be read or replaced through the parts behind it (the
filer, the volume server, the master) by a local caller without those keys, over HTTP or gRPC."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest

from bi_agent.infra.objects import create_s3_client
from tests.conftest import EmbeddedStack

LOOPBACK = "127.0.0.1"
PHI = b"patient 4711, Jane Roe, diagnosis C50.9;"


def anonymous(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    return httpx.request(method, url, content=data, headers=headers, timeout=5).status_code


@pytest.fixture(scope="module")
def stored(embedded: EmbeddedStack) -> tuple[str, str, bytes]:
    """(bucket, key, body) of an object put through S3, large and random enough to sit in a volume."""
    client = create_s3_client(embedded.settings())
    bucket, key = f"security-{uuid.uuid4().hex[:8]}", "patients/cohort.csv"
    body = PHI + os.urandom(200_000)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key=key, Body=body)
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    return bucket, key, body


def ports(embedded: EmbeddedStack) -> dict[str, int]:
    return {name: int(port) for name, port in json.loads((embedded.home / "s3" / "ports.json").read_text()).items()}


def file_id(embedded: EmbeddedStack, bucket: str, key: str) -> str:
    """The volume file id of the object's chunk, asked as the platform: `weed shell` in the data
    folder, whose security.toml holds the certificate gRPC requires."""
    port = ports(embedded)
    shell = subprocess.run(
        [
            str(Path(sys.executable).parent / "weed"),
            "shell",
            f"-master={LOOPBACK}:{port['master.port']}.{port['master.port.grpc']}",
            f"-filer={LOOPBACK}:{port['filer.port']}.{port['filer.port.grpc']}",
        ],
        input=f"fs.meta.cat /buckets/{bucket}/{key}\nexit\n".encode(),
        capture_output=True,
        timeout=60,
        cwd=embedded.home / "s3",
    )
    found = re.search(rb'"fileId":\s*"([^"]+)"', shell.stdout)
    assert found is not None, shell.stdout[-500:] + shell.stderr[-500:]
    return found.group(1).decode()


def test_the_filer_and_the_master_answer_no_anonymous_http(
    embedded: EmbeddedStack, stored: tuple[str, str, bytes]
) -> None:
    bucket, key, body = stored
    port = ports(embedded)
    filer, master = f"http://{LOOPBACK}:{port['filer.port']}", f"http://{LOOPBACK}:{port['master.port']}"
    for method, path, data in [
        ("GET", f"/buckets/{bucket}/{key}", None),
        ("GET", f"/buckets/{bucket}/{key}?metadata=true", None),
        ("GET", f"/buckets/{bucket}/patients/", None),
        ("PUT", f"/buckets/{bucket}/{key}", b"forged"),
        ("PUT", f"/buckets/{bucket}/patients/planted.csv", b"forged"),
        ("DELETE", f"/buckets/{bucket}/{key}", None),
    ]:
        assert anonymous(method, filer + path, data) in (401, 403, 404), (method, path)
    for method, path in [
        ("POST", "/dir/assign"),
        ("GET", "/dir/lookup?volumeId=1"),
        ("GET", f"/col/delete?collection={bucket}"),
        ("GET", "/vol/grow?count=1"),
    ]:
        assert anonymous(method, master + path) in (401, 403, 404), (method, path)
    client = create_s3_client(embedded.settings())
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert [item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]] == [key]


def test_the_volume_server_serves_a_chunk_only_with_a_token_of_the_home(
    embedded: EmbeddedStack, stored: tuple[str, str, bytes]
) -> None:
    bucket, key, body = stored
    fid = file_id(embedded, bucket, key)
    chunk = f"http://{LOOPBACK}:{ports(embedded)['volume.port']}/{fid}"
    forged = jwt.encode({"fid": fid, "exp": int(time.time()) + 60}, "not-the-key-of-this-home-" * 2, algorithm="HS256")
    assert anonymous("GET", chunk) == 401
    assert anonymous("GET", chunk, headers={"Authorization": f"Bearer {forged}"}) == 401
    for method in ("PUT", "POST"):
        assert anonymous(method, chunk, b"forged", {"Content-Type": "application/octet-stream"}) == 401
    assert anonymous("DELETE", chunk) == 401
    # The refusals are for want of the key: signed with the home's, the same request is served.
    signed = jwt.encode(
        {"fid": fid, "exp": int(time.time()) + 60}, str(embedded.secrets.seaweedfs_volume_read_key), algorithm="HS256"
    )
    reply = httpx.get(chunk, headers={"Authorization": f"Bearer {signed}"}, timeout=5)
    assert reply.status_code == 200
    assert reply.content == body
    assert create_s3_client(embedded.settings()).get_object(Bucket=bucket, Key=key)["Body"].read() == body


def test_grpc_takes_only_the_homes_certificate(embedded: EmbeddedStack) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    port = ports(embedded)
    for part in ("master", "volume", "filer", "s3"):
        with socket.create_connection((LOOPBACK, port[f"{part}.port.grpc"]), timeout=5) as raw:
            # Plain gRPC (what `weed shell` speaks by default) gets no HTTP/2 answer.
            raw.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            with contextlib.suppress(OSError):
                assert not raw.recv(64).startswith(b"\x00")
        with (
            socket.create_connection((LOOPBACK, port[f"{part}.port.grpc"]), timeout=5) as raw,
            context.wrap_socket(raw) as tls,
            pytest.raises(ssl.SSLError, match=r"(?i)certificate.required"),
        ):
            # TLS without a client certificate: the server asks for one, and refuses.
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            tls.recv(64)


def test_the_keys_are_owner_only(embedded: EmbeddedStack) -> None:
    data = embedded.home / "s3"
    for path in [data / "security.toml", *(data / "tls").iterdir()]:
        assert (path.stat().st_mode & 0o777) == 0o600, path
    assert not (data / "tls" / "ca.key").exists()
    security = (data / "security.toml").read_text()
    for key in embedded.secrets.seaweedfs_keys().values():
        assert f'key = "{key}"' in security
