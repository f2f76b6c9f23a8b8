"""The live stack `scripts/with-stack.sh` started (SWITCHYARD_* variables),
an admin client for it, the example schema registered, and machine tokens
signed with an Ed25519 key the tests register."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from switchyard.v1 import registry_pb2, workspace_pb2

from switchyard_client import Endpoints, Switchyard

REPOSITORY = pathlib.Path(__file__).resolve().parents[3]


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests through scripts/with-stack.sh")
    return value


@pytest.fixture(scope="session")
def admin() -> Switchyard:
    client = Switchyard(api_key=env("SWITCHYARD_API_KEY"), endpoints=Endpoints.from_env())
    schema = (REPOSITORY / "examples/lead.schema.json").read_text()
    client.registry.RegisterSchema(
        registry_pb2.RegisterSchemaRequest(event_type="lead.created", json_schema=schema)
    )
    yield client
    client.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="session")
def mint(admin: Switchyard):
    """mint(scope, ttl_seconds=300) -> a machine JWT for the test workspace."""
    key = Ed25519PrivateKey.generate()
    kid = f"pytest-{uuid.uuid4()}"
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    admin.workspaces.AddVerificationKey(
        workspace_pb2.AddVerificationKeyRequest(
            kid=kid, algorithm=workspace_pb2.VERIFICATION_ALGORITHM_EDDSA, material=public_pem
        )
    )
    workspace = env("SWITCHYARD_WORKSPACE_ID")

    def token(scope: str, ttl_seconds: int = 300) -> str:
        now = int(time.time())
        header = _b64(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": kid}).encode())
        claims = _b64(
            json.dumps(
                {
                    "sub": "pytest",
                    "ws": workspace,
                    "scope": scope,
                    "aud": "switchyard",
                    "iat": now,
                    "exp": now + ttl_seconds,
                }
            ).encode()
        )
        signature = _b64(key.sign(f"{header}.{claims}".encode()))
        return f"{header}.{claims}.{signature}"

    return token
