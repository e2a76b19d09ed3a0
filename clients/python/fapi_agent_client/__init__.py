"""A small typed client for fapi-agent over its Unix socket.

    from fapi_agent_client import Client
    with Client() as agent:                      # FAPI_AGENT_SOCKET or the default path
        jwt = agent.sign_client_assertion(client_id="acme").assertion

Before the first call the client checks, with the kernel's word
(SO_PEERCRED on a connected socket), that the daemon runs as the expected
uid: your own, root, or ``expected_uid`` / ``FAPI_AGENT_SOCKET_OWNER``.
"""
from __future__ import annotations

import json
import os
import random
import socket
import stat
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import grpc

from fapi_agent_client._gen.fapi_agent.v1 import agent_pb2 as pb
from fapi_agent_client._gen.fapi_agent.v1 import agent_pb2_grpc as pb_grpc

__all__ = ["Client", "AgentError", "SocketTrustError", "default_socket_path", "pb"]


class AgentError(Exception):
    """A call failed; ``code`` is the grpc.StatusCode, ``message`` the daemon's text."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class SocketTrustError(Exception):
    """The socket is not one this client should talk to."""


def default_socket_path() -> Path:
    """``FAPI_AGENT_SOCKET``, then ``$XDG_RUNTIME_DIR/fapi-agent/agent.sock``,
    then ``/run/fapi-agent/agent.sock`` (root)."""
    if os.environ.get("FAPI_AGENT_SOCKET"):
        return Path(os.environ["FAPI_AGENT_SOCKET"])
    if os.geteuid() == 0:
        return Path("/run/fapi-agent/agent.sock")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "fapi-agent" / "agent.sock"
    return Path(f"/tmp/fapi-agent-{os.geteuid()}/agent.sock")


def _trusted_uids(expected_uid: Optional[int]) -> set[int]:
    uids = {os.geteuid(), 0}
    if expected_uid is not None:
        uids.add(expected_uid)
    elif os.environ.get("FAPI_AGENT_SOCKET_OWNER", "").strip().isdigit():
        uids.add(int(os.environ["FAPI_AGENT_SOCKET_OWNER"]))
    return uids


def check_socket(path: Path, expected_uid: Optional[int] = None) -> None:
    """Refuses a path that is not a socket, sits in a directory others may
    write, or is served by an unexpected uid (asked of the kernel)."""
    trusted = _trusted_uids(expected_uid)
    try:
        st = os.lstat(path)
        parent = os.lstat(path.parent)
    except OSError as e:
        raise SocketTrustError(f"{path}: {e.strerror}") from e
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketTrustError(f"{path} is not a socket")
    if parent.st_mode & 0o022 and not parent.st_mode & stat.S_ISVTX:
        raise SocketTrustError(f"{path.parent} is writable by others: the socket could be replaced")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.connect(str(path))
        _pid, uid, _gid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    finally:
        s.close()
    if uid not in trusted:
        raise SocketTrustError(
            f"{path} is served by uid {uid}, not by {sorted(trusted)}: refusing to talk to it "
            f"(set FAPI_AGENT_SOCKET_OWNER={uid} if that uid runs fapi-agent)"
        )


@dataclass
class Assertion:
    """A signed client assertion."""
    assertion: str
    assertion_type: str
    kid: str
    jti: str
    expires_at: int


class Client:
    """fapi-agent over its Unix socket: sign, credentials, JWKS, decrypt, watch."""

    def __init__(self, socket_path: Optional[os.PathLike | str] = None, *,
                 expected_uid: Optional[int] = None, timeout: float = 10.0,
                 retries: int = 4, backoff: float = 0.1):
        self.path = Path(socket_path) if socket_path else default_socket_path()
        check_socket(self.path, expected_uid)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        # Unix-socket gRPC from Python must name an authority: the server
        # rejects the socket path the channel would send otherwise.
        self._channel = grpc.insecure_channel(
            f"unix:{self.path}", options=[("grpc.default_authority", "localhost")]
        )
        self.agent = pb_grpc.AgentStub(self._channel)
        self.admin = pb_grpc.AdminStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request):
        """One unary call; retried with exponential backoff and jitter on
        UNAVAILABLE only (the daemon restarting, a secret manager down)."""
        for attempt in range(self.retries + 1):
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.UNAVAILABLE and attempt < self.retries:
                    time.sleep(self.backoff * (2 ** attempt) * (0.5 + random.random() / 2))
                    continue
                raise AgentError(e.code(), e.details() or "") from None
        raise AssertionError("unreachable")

    @staticmethod
    def _selector(name: Optional[str], client_id: Optional[str], kid: str = "") -> pb.CredentialSelector:
        if (name is None) == (client_id is None):
            raise ValueError("give exactly one of name= or client_id=")
        if name is not None:
            return pb.CredentialSelector(name=name, kid=kid)
        return pb.CredentialSelector(client_id=client_id, kid=kid)

    def sign_client_assertion(self, *, name: Optional[str] = None, client_id: Optional[str] = None,
                              kid: str = "", audience: str = "", lifetime_seconds: int = 0) -> Assertion:
        """A fresh private_key_jwt client assertion (never reuse one)."""
        req = pb.SignClientAssertionRequest(
            credential=self._selector(name, client_id, kid), audience=audience,
            lifetime_seconds=lifetime_seconds,
        )
        r = self._call(self.agent.SignClientAssertion, req)
        return Assertion(r.assertion, r.assertion_type, r.kid, r.jti, r.expires_at)

    def get_credential(self, *, name: Optional[str] = None, client_id: Optional[str] = None) -> pb.Credential:
        """Public facts of one credential."""
        return self._call(self.agent.GetCredential,
                          pb.GetCredentialRequest(credential=self._selector(name, client_id)))

    def list_credentials(self) -> list[pb.Credential]:
        """Public facts of every credential this caller may read."""
        return list(self._call(self.agent.ListCredentials, pb.ListCredentialsRequest()).credentials)

    def jwks(self, client_id: Optional[str] = None) -> dict:
        """The public JWKS to register at the authorization server."""
        keys = [json.loads(c.public_jwk_json) for c in self.list_credentials()
                if c.public_jwk_json and (client_id is None or c.client_id == client_id)]
        return {"keys": keys}

    def decrypt_secret(self, ciphertext: bytes, *, padding: int = pb.PADDING_OAEP_SHA256,
                       name: Optional[str] = None, client_id: Optional[str] = None) -> bytes:
        """Decrypts a shared secret the platform encrypted to the certificate."""
        req = pb.DecryptSecretRequest(credential=self._selector(name, client_id), padding=padding,
                                      ciphertext_raw=ciphertext)
        return self._call(self.agent.DecryptSecret, req).plaintext

    def watch_credentials(self, client_id: str = "") -> Iterator[pb.CredentialEvent]:
        """Credential events: a snapshot first, then every change."""
        try:
            yield from self.agent.WatchCredentials(pb.WatchCredentialsRequest(client_id=client_id))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            raise AgentError(e.code(), e.details() or "") from None
