"""A small typed client for fapi-agent over its Unix socket.

    from fapi_agent_client import Client
    with Client() as agent:                      # FAPI_AGENT_SOCKET or the default path
        jwt = agent.sign_client_assertion(client_id="acme").assertion
        token = agent.get_access_token(name="acme")  # repr() never shows the token

Before the first call the client checks, with the kernel's word
(SO_PEERCRED on a connected socket), that the daemon runs as the expected
uid: your own, root, or ``expected_uid`` / ``FAPI_AGENT_SOCKET_OWNER``.
"""
from __future__ import annotations

import hashlib
import hmac as _hmac
import json
import os
import random
import socket
import stat
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Optional, Union
from urllib.parse import urlencode

import grpc

from fapi_agent_client._gen.fapi_agent.v1 import agent_pb2 as pb
from fapi_agent_client._gen.fapi_agent.v1 import agent_pb2_grpc as pb_grpc

__all__ = ["Client", "AgentError", "SocketTrustError", "default_socket_path", "pb",
           "Assertion", "AccessToken", "DpopProof", "PushedAuthorizationRequest", "Secret",
           "KeyMaterial", "PasswordDigest"]


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


class AccessToken:
    """An access token from the daemon (GetAccessToken, ExchangeAuthorizationCode,
    RefreshAccessToken).

    The token and the refresh token are secrets: ``repr()`` and ``str()`` show
    only the token type, expiry, scope, binding and ``sha256:`` followed by the
    first 16 hex digits of the token's SHA-256 (what the daemon's audit log
    names), never the token. Read the token itself from ``access_token``.
    """

    __slots__ = ("_access_token", "_refresh_token", "token_type", "expires_at", "scope", "jkt",
                 "x5t_s256", "cached", "credential")

    def __init__(self, access_token: str, *, token_type: str, expires_at: int, scope: str = "",
                 jkt: str = "", x5t_s256: str = "", refresh_token: str = "", cached: bool = False,
                 credential: str = ""):
        self._access_token = access_token
        self._refresh_token = refresh_token
        #: ``DPoP`` or ``Bearer``.
        self.token_type = token_type
        #: Unix seconds; the daemon does not serve the token after it (minus a skew).
        self.expires_at = expires_at
        #: The scope granted.
        self.scope = scope
        #: The DPoP key's thumbprint (DPoP-bound tokens).
        self.jkt = jkt
        #: The certificate's x5t#S256 (mTLS-bound tokens).
        self.x5t_s256 = x5t_s256
        #: Whether it came from the daemon's cache.
        self.cached = cached
        #: The credential that got it.
        self.credential = credential

    @classmethod
    def _from_pb(cls, r: pb.AccessToken) -> "AccessToken":
        return cls(r.access_token, token_type=r.token_type, expires_at=r.expires_at, scope=r.scope,
                   jkt=r.jkt, x5t_s256=r.x5t_s256, refresh_token=r.refresh_token, cached=r.cached,
                   credential=r.credential)

    @property
    def access_token(self) -> str:
        """The token itself (secret: never log it)."""
        return self._access_token

    @property
    def refresh_token(self) -> str:
        """The refresh token of the code and refresh grants, else ``""`` (secret)."""
        return self._refresh_token

    @property
    def sha256_prefix(self) -> str:
        """The first 16 hex digits of the token's SHA-256: safe to log."""
        return hashlib.sha256(self._access_token.encode()).hexdigest()[:16]

    def authorization_header(self) -> str:
        """The ``Authorization`` header value, ``DPoP <token>`` or ``Bearer <token>`` (secret)."""
        return f"{self.token_type} {self._access_token}"

    def expires_in(self, now: Optional[float] = None) -> float:
        """Seconds until ``expires_at`` (negative once past)."""
        return self.expires_at - (time.time() if now is None else now)

    def __repr__(self) -> str:
        binding = f", jkt={self.jkt!r}" if self.jkt else f", x5t_s256={self.x5t_s256!r}" if self.x5t_s256 else ""
        refresh = ", refresh_token=[REDACTED]" if self._refresh_token else ""
        return (f"AccessToken(token_type={self.token_type!r}, expires_at={self.expires_at}, "
                f"scope={self.scope!r}{binding}, cached={self.cached}, credential={self.credential!r}, "
                f"access_token=[REDACTED sha256:{self.sha256_prefix}]{refresh})")

    __str__ = __repr__


class Secret:
    """Secret bytes from the daemon (a decrypted shared secret, an exported key).

    ``repr()``/``str()`` show ``[REDACTED]`` and the length, never the value;
    it cannot be pickled or formatted into a string by accident. Read it with
    ``reveal()`` (bytes) or ``reveal_str()`` (UTF-8 text), and ``wipe()`` it
    when done (it is held in a ``bytearray`` so the wipe overwrites it; copies
    you made with ``reveal()`` are yours to drop). Equality is constant-time.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes):
        self._value = bytearray(value)

    def reveal(self) -> bytes:
        """The secret itself (never log it)."""
        return bytes(self._value)

    def reveal_str(self) -> str:
        """The secret as UTF-8 text (never log it)."""
        return self._value.decode()

    def wipe(self) -> None:
        """Overwrites the held value with zeros and empties it."""
        for i in range(len(self._value)):
            self._value[i] = 0
        self._value.clear()

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            other = other._value
        if not isinstance(other, (bytes, bytearray)):
            return NotImplemented
        return _hmac.compare_digest(bytes(self._value), bytes(other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Secret([REDACTED], {len(self._value)} bytes)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled")


@dataclass(repr=False)
class KeyMaterial:
    """A credential's private key and certificate chain (GetKeyMaterial, for
    callers the export policy allows). ``repr()`` redacts the key."""
    #: The private key, PEM (secret).
    private_key_pem: Secret
    #: The certificate and any chain, PEM, leaf first.
    certificate_chain_pem: str
    kid: str

    def __repr__(self) -> str:
        return f"KeyMaterial(kid={self.kid!r}, private_key_pem={self.private_key_pem!r})"

    __str__ = __repr__


@dataclass
class PasswordDigest:
    """A WS-Security UsernameToken password digest (the password stays in the daemon)."""
    #: Base64(SHA-1(nonce || created || password)), the ``wsse:Password`` value.
    password_digest: str
    #: The nonce, base64 (the ``wsse:Nonce`` value).
    nonce: str
    #: The ``wsu:Created`` value used.
    created: str
    credential: str


@dataclass
class DpopProof:
    """A DPoP proof (RFC 9449) for the ``DPoP`` header of one request."""
    proof: str
    #: The DPoP key's thumbprint.
    jkt: str
    jti: str
    #: The ``htu`` as signed (without query and fragment).
    htu: str


@dataclass
class PushedAuthorizationRequest:
    """A pushed authorization request (RFC 9126)."""
    #: The ``request_uri`` to send the user with.
    request_uri: str
    #: Seconds it is valid.
    expires_in: int
    #: From the AS metadata, if known.
    authorization_endpoint: str
    client_id: str

    @property
    def authorization_url(self) -> str:
        """``authorization_endpoint?client_id=…&request_uri=…``: where to send the
        user (``""`` when the endpoint is unknown)."""
        if not self.authorization_endpoint:
            return ""
        sep = "&" if "?" in self.authorization_endpoint else "?"
        query = urlencode({"client_id": self.client_id, "request_uri": self.request_uri})
        return f"{self.authorization_endpoint}{sep}{query}"


class Client:
    """fapi-agent over its Unix socket: sign, access tokens, DPoP proofs,
    credentials, JWKS, decrypt, watch."""

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

    def _call(self, method, request, *, retry: bool = True):
        """One unary call; retried with exponential backoff and jitter on
        UNAVAILABLE only (the daemon restarting, a secret manager down), unless
        ``retry`` is false (a request that must not be replayed)."""
        retries = self.retries if retry else 0
        for attempt in range(retries + 1):
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.UNAVAILABLE and attempt < retries:
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
                       name: Optional[str] = None, client_id: Optional[str] = None) -> Secret:
        """Decrypts a shared secret the platform encrypted to the certificate
        (for callers the ``decrypt`` policy allows). Where the daemon can keep
        the secret (``shared_secrets``), prefer ``hmac`` and ``password_digest``."""
        req = pb.DecryptSecretRequest(credential=self._selector(name, client_id), padding=padding,
                                      ciphertext_raw=ciphertext)
        return Secret(self._call(self.agent.DecryptSecret, req).plaintext)

    def key_material(self, *, name: Optional[str] = None, client_id: Optional[str] = None,
                     format: int = pb.KEY_FORMAT_PKCS8_PEM,
                     export_passphrase: Union[bytes, str, None] = None) -> KeyMaterial:
        """The credential's private key and chain, for a caller the ``export``
        policy allows and a credential with ``export = true``.
        ``export_passphrase`` is required with ``KEY_FORMAT_ENCRYPTED_PKCS8_PEM``."""
        if isinstance(export_passphrase, str):
            export_passphrase = export_passphrase.encode()
        req = pb.GetKeyMaterialRequest(credential=self._selector(name, client_id), format=format,
                                       export_passphrase=export_passphrase or b"")
        r = self._call(self.agent.GetKeyMaterial, req)
        return KeyMaterial(private_key_pem=Secret(r.private_key_pem),
                           certificate_chain_pem=r.certificate_chain_pem, kid=r.kid)

    def hmac(self, message: bytes, *, secret: str, alg: int = pb.HMAC_SHA256,
             encoding: int = pb.MAC_ENCODING_HEX, name: Optional[str] = None,
             client_id: Optional[str] = None) -> str:
        """An HMAC over ``message`` with the credential's shared secret ``secret``
        (``[credentials.N.shared_secrets.SECRET]``), which stays in the daemon."""
        req = pb.HmacRequest(credential=self._selector(name, client_id), name=secret, alg=alg,
                             message=message, encoding=encoding)
        return self._call(self.agent.Hmac, req).mac

    def password_digest(self, *, secret: str, nonce: bytes = b"", created: str = "",
                        name: Optional[str] = None,
                        client_id: Optional[str] = None) -> PasswordDigest:
        """A WS-Security password digest with the shared secret ``secret`` as the
        password; empty ``nonce``/``created`` let the daemon choose (returned)."""
        req = pb.PasswordDigestRequest(credential=self._selector(name, client_id), name=secret,
                                       nonce=nonce, created=created)
        r = self._call(self.agent.PasswordDigest, req)
        return PasswordDigest(password_digest=r.password_digest, nonce=r.nonce, created=r.created,
                              credential=r.credential)

    def get_access_token(self, *, name: Optional[str] = None, client_id: Optional[str] = None,
                         kid: str = "", scopes: Iterable[str] = (), resource: Iterable[str] = (),
                         audience: str = "", force_refresh: bool = False,
                         grant: int = pb.GRANT_UNSPECIFIED) -> AccessToken:
        """An access token for the credential's client (``[credentials.NAME.oauth]``):
        client_credentials by default (``grant=pb.GRANT_PASSWORD``: the configured
        resource owner, outside FAPI only), DPoP- or mTLS-bound as configured, from
        the daemon's cache while it is fresh (``force_refresh=True`` asks the
        authorization server anyway). Empty ``scopes``, ``resource`` (RFC 8707)
        and ``audience`` mean the configured ones.

        Raises ``AgentError``: FAILED_PRECONDITION for a credential without an
        ``oauth`` table or an authorization server's refusal (its error quoted),
        UNAVAILABLE for a server down or slow.
        """
        req = pb.GetAccessTokenRequest(
            credential=self._selector(name, client_id, kid), scopes=list(scopes),
            resource=list(resource), audience=audience, force_refresh=force_refresh, grant=grant,
        )
        return AccessToken._from_pb(self._call(self.agent.GetAccessToken, req))

    def exchange_authorization_code(self, code: str, *, code_verifier: str, redirect_uri: str,
                                    name: Optional[str] = None, client_id: Optional[str] = None,
                                    kid: str = "") -> AccessToken:
        """Exchanges an authorization code and its PKCE ``code_verifier`` for tokens
        (the code flow's last step), authenticated and sender-constrained like
        :meth:`get_access_token`. Not cached, and not retried: a code is
        single-use and replaying one revokes the grant."""
        req = pb.ExchangeAuthorizationCodeRequest(
            credential=self._selector(name, client_id, kid), code=code,
            code_verifier=code_verifier, redirect_uri=redirect_uri,
        )
        return AccessToken._from_pb(self._call(self.agent.ExchangeAuthorizationCode, req, retry=False))

    def refresh_access_token(self, refresh_token: Union[str, AccessToken], *, scopes: Iterable[str] = (),
                             name: Optional[str] = None, client_id: Optional[str] = None,
                             kid: str = "") -> AccessToken:
        """Uses a refresh token (a string, or the :class:`AccessToken` carrying one),
        optionally for narrower ``scopes``. Not cached, and not retried: a server
        that rotates refresh tokens revokes the grant when one is replayed."""
        token = refresh_token.refresh_token if isinstance(refresh_token, AccessToken) else refresh_token
        req = pb.RefreshAccessTokenRequest(
            credential=self._selector(name, client_id, kid), refresh_token=token, scopes=list(scopes),
        )
        return AccessToken._from_pb(self._call(self.agent.RefreshAccessToken, req, retry=False))

    def push_authorization_request(self, parameters: Mapping[str, str], *,
                                   signed_request_object: bool = False, name: Optional[str] = None,
                                   client_id: Optional[str] = None,
                                   kid: str = "") -> PushedAuthorizationRequest:
        """Pushes an authorization request (RFC 9126) for the app's code flow.
        ``parameters``: response_type, redirect_uri, scope, state, code_challenge,
        code_challenge_method, nonce, … (the daemon adds client_id, client
        authentication and dpop_jkt itself). ``signed_request_object=True`` sends
        them as a request object signed with the credential's key (JAR)."""
        req = pb.PushAuthorizationRequestRequest(
            credential=self._selector(name, client_id, kid), parameters=dict(parameters),
            signed_request_object=signed_request_object,
        )
        r = self._call(self.agent.PushAuthorizationRequest, req)
        return PushedAuthorizationRequest(r.request_uri, r.expires_in, r.authorization_endpoint, r.client_id)

    def sign_dpop_proof(self, htm: str, htu: str, *, access_token: Union[str, AccessToken, None] = None,
                        nonce: str = "", name: Optional[str] = None, client_id: Optional[str] = None,
                        kid: str = "") -> DpopProof:
        """A DPoP proof (RFC 9449) for a request the app makes itself, signed with
        the credential's DPoP key: ``htm`` the HTTP method, ``htu`` the URL (query
        and fragment are dropped), ``access_token`` the token the request presents
        (sets ``ath``), ``nonce`` the server's latest DPoP-Nonce. A fresh ``jti``
        every call."""
        token = access_token.access_token if isinstance(access_token, AccessToken) else (access_token or "")
        req = pb.SignDpopProofRequest(
            credential=self._selector(name, client_id, kid), htm=htm, htu=htu, access_token=token,
            nonce=nonce,
        )
        r = self._call(self.agent.SignDpopProof, req)
        return DpopProof(r.proof, r.jkt, r.jti, r.htu)

    def watch_credentials(self, client_id: str = "") -> Iterator[pb.CredentialEvent]:
        """Credential events: a snapshot first, then every change."""
        try:
            yield from self.agent.WatchCredentials(pb.WatchCredentialsRequest(client_id=client_id))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            raise AgentError(e.code(), e.details() or "") from None
