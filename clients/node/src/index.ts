/**
 * A typed client for fapi-agent over its Unix socket.
 *
 *   const agent = new FapiAgentClient();                 // FAPI_AGENT_SOCKET or the default path
 *   const a = await agent.signClientAssertion({ clientId: 'acme' });
 *   const t = await agent.getAccessToken({ name: 'acme' });   // prints redacted
 *
 * Before connecting it checks that the path is a socket, owned by the
 * expected uid (your own, root, or `expectedUid` / FAPI_AGENT_SOCKET_OWNER),
 * in a directory others cannot write.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/agent';
import type { AgentClient } from './generated/fapi_agent/v1/Agent';
import type { AdminClient } from './generated/fapi_agent/v1/Admin';
import type { Credential__Output as Credential } from './generated/fapi_agent/v1/Credential';
import type { CredentialEvent__Output as CredentialEvent } from './generated/fapi_agent/v1/CredentialEvent';
import type { SignClientAssertionResponse__Output as Assertion } from './generated/fapi_agent/v1/SignClientAssertionResponse';
import type { StatusResponse__Output as StatusResponse } from './generated/fapi_agent/v1/StatusResponse';
import type { ListCredentialsResponse__Output } from './generated/fapi_agent/v1/ListCredentialsResponse';
import type { DecryptSecretResponse__Output } from './generated/fapi_agent/v1/DecryptSecretResponse';
import type { GetKeyMaterialResponse__Output } from './generated/fapi_agent/v1/GetKeyMaterialResponse';
import type { HmacResponse__Output } from './generated/fapi_agent/v1/HmacResponse';
import type { PasswordDigestResponse__Output as PasswordDigest } from './generated/fapi_agent/v1/PasswordDigestResponse';
import type { AccessToken__Output } from './generated/fapi_agent/v1/AccessToken';
import type { PushAuthorizationRequestResponse__Output } from './generated/fapi_agent/v1/PushAuthorizationRequestResponse';
import type { SignDpopProofResponse__Output as DpopProof } from './generated/fapi_agent/v1/SignDpopProofResponse';
import type { TokenStatus__Output as TokenStatus } from './generated/fapi_agent/v1/TokenStatus';

export type { Assertion, Credential, CredentialEvent, DpopProof, PasswordDigest, StatusResponse, TokenStatus };

/** A call the daemon refused: `code` is the gRPC status code. */
export class AgentError extends Error {
  constructor(public readonly code: grpc.status, public readonly details: string) {
    super(`${grpc.status[code]}: ${details}`);
  }
}

/** The socket is not one this client should talk to. */
export class SocketTrustError extends Error {}

/** FAPI_AGENT_SOCKET, then /run/fapi-agent/agent.sock (root), then $XDG_RUNTIME_DIR/fapi-agent/agent.sock. */
export function defaultSocketPath(): string {
  if (process.env.FAPI_AGENT_SOCKET) return process.env.FAPI_AGENT_SOCKET;
  const uid = os.userInfo().uid;
  if (uid === 0) return '/run/fapi-agent/agent.sock';
  if (process.env.XDG_RUNTIME_DIR) return path.join(process.env.XDG_RUNTIME_DIR, 'fapi-agent/agent.sock');
  return `/tmp/fapi-agent-${uid}/agent.sock`;
}

/** Refuses a path that is not a socket, is owned by an unexpected uid, or sits in a directory others may write. */
export function checkSocket(socketPath: string, expectedUid?: number): void {
  const trusted = new Set([process.geteuid?.() ?? os.userInfo().uid, 0]);
  const env = process.env.FAPI_AGENT_SOCKET_OWNER;
  if (expectedUid !== undefined) trusted.add(expectedUid);
  else if (env && /^\d+$/.test(env.trim())) trusted.add(Number(env.trim()));
  let st: fs.Stats;
  let dir: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
    dir = fs.lstatSync(path.dirname(socketPath));
  } catch (e) {
    throw new SocketTrustError(`${socketPath}: ${(e as Error).message}`);
  }
  if (!st.isSocket()) throw new SocketTrustError(`${socketPath} is not a socket`);
  if ((dir.mode & 0o022) !== 0 && (dir.mode & 0o1000) === 0) {
    throw new SocketTrustError(`${path.dirname(socketPath)} is writable by others: the socket could be replaced`);
  }
  if (!trusted.has(st.uid)) {
    throw new SocketTrustError(
      `${socketPath} is owned by uid ${st.uid}, not by ${[...trusted].join(' or ')}: refusing to talk to it ` +
      `(set FAPI_AGENT_SOCKET_OWNER=${st.uid} if that uid runs fapi-agent)`);
  }
}

export interface Options {
  /** The uid the daemon runs as, besides yours and root (default FAPI_AGENT_SOCKET_OWNER). */
  expectedUid?: number;
  /** Per-call deadline in ms (default 10 000). */
  timeoutMs?: number;
  /** Retries on UNAVAILABLE (default 4), exponential backoff from `backoffMs` (100) with jitter. */
  retries?: number;
  backoffMs?: number;
}

/** Selects a credential: by config name or by client_id, optionally pinning a kid. */
export type Selector = { name: string; kid?: string } | { clientId: string; kid?: string };

function selector(s: Selector) {
  return 'name' in s ? { name: s.name, kid: s.kid ?? '' } : { client_id: s.clientId, kid: s.kid ?? '' };
}

/**
 * An access token from the daemon. The token and any refresh token are
 * secrets: they are private fields read through the `access_token` and
 * `refresh_token` getters, so `console.log`, `util.inspect`, `JSON.stringify`
 * and `String()` show only the token type, expiry, binding and the first
 * 16 hex digits of the token's SHA-256 (what the daemon's audit log names).
 */
export class AccessToken {
  readonly #accessToken: string;
  readonly #refreshToken: string;
  /** `DPoP` or `Bearer`. */
  readonly token_type: string;
  /** Unix seconds; the daemon does not serve the token after it (minus a skew). */
  readonly expires_at: number;
  /** The scope granted. */
  readonly scope: string;
  /** The DPoP key's thumbprint, when the token is DPoP-bound. */
  readonly jkt: string;
  /** The certificate's x5t#S256, when the token is mTLS-bound. */
  readonly x5t_s256: string;
  /** Whether it came from the daemon's cache. */
  readonly cached: boolean;
  /** The credential that got it. */
  readonly credential: string;

  constructor(r: AccessToken__Output) {
    this.#accessToken = r.access_token;
    this.#refreshToken = r.refresh_token;
    this.token_type = r.token_type;
    this.expires_at = Number(r.expires_at);
    this.scope = r.scope;
    this.jkt = r.jkt;
    this.x5t_s256 = r.x5t_s256;
    this.cached = r.cached;
    this.credential = r.credential;
  }

  /** The token itself (secret: never log it). */
  get access_token(): string { return this.#accessToken; }

  /** The refresh token of the code and refresh grants, else `''` (secret). */
  get refresh_token(): string { return this.#refreshToken; }

  /** The first 16 hex digits of the token's SHA-256: safe to log, matches the daemon's audit log. */
  get sha256Prefix(): string {
    return crypto.createHash('sha256').update(this.#accessToken).digest('hex').slice(0, 16);
  }

  /** The `Authorization` header value: `DPoP <token>` or `Bearer <token>` (secret). */
  authorizationHeader(): string {
    return `${this.token_type} ${this.#accessToken}`;
  }

  /** The redacted view that inspect, JSON.stringify and String() print. */
  toJSON(): Record<string, unknown> {
    return {
      token_type: this.token_type, expires_at: this.expires_at, scope: this.scope, jkt: this.jkt,
      x5t_s256: this.x5t_s256, cached: this.cached, credential: this.credential,
      access_token: `[REDACTED sha256:${this.sha256Prefix}]`,
      refresh_token: this.#refreshToken ? '[REDACTED]' : '',
    };
  }

  toString(): string {
    return `AccessToken(${this.token_type}, sha256:${this.sha256Prefix}, expires_at ${this.expires_at})`;
  }

  [inspect.custom](_depth: number, options: object): string {
    return `AccessToken ${inspect(this.toJSON(), options)}`;
  }
}

/**
 * Secret bytes from the daemon (a decrypted shared secret, an exported key).
 * The value is a private field: `console.log`, `util.inspect`,
 * `JSON.stringify`, `String()` and template literals show `[REDACTED]` and
 * the length. `reveal()` returns the held buffer itself (not a copy), so
 * `wipe()` overwrites the only copy the client made; `equals()` is
 * constant-time.
 */
export class Secret {
  #value: Buffer;

  constructor(value: Buffer) { this.#value = value; }

  /** The secret itself (never log it). */
  reveal(): Buffer { return this.#value; }

  /** The secret as UTF-8 text (never log it). */
  revealString(): string { return this.#value.toString('utf8'); }

  /** Its length in bytes. */
  get length(): number { return this.#value.length; }

  /** Overwrites the value with zeros and empties it. */
  wipe(): void {
    this.#value.fill(0);
    this.#value = Buffer.alloc(0);
  }

  /** Constant-time comparison with another secret or buffer. */
  equals(other: Secret | Buffer): boolean {
    const b = other instanceof Secret ? other.#value : other;
    return b.length === this.#value.length && crypto.timingSafeEqual(b, this.#value);
  }

  toJSON(): string { return '[REDACTED]'; }

  toString(): string { return `Secret([REDACTED], ${this.#value.length} bytes)`; }

  [Symbol.toPrimitive](): string { return this.toString(); }

  [inspect.custom](): string { return this.toString(); }
}

/**
 * A credential's private key and certificate chain (GetKeyMaterial, for
 * callers the export policy allows); the key is a {@link Secret}.
 */
export class KeyMaterial {
  /** The private key, PEM (secret). */
  readonly private_key_pem: Secret;
  /** The certificate and any chain, PEM, leaf first. */
  readonly certificate_chain_pem: string;
  /** The key's `kid`. */
  readonly kid: string;

  constructor(r: GetKeyMaterialResponse__Output) {
    this.private_key_pem = new Secret(r.private_key_pem);
    this.certificate_chain_pem = r.certificate_chain_pem;
    this.kid = r.kid;
  }

  toJSON(): Record<string, unknown> {
    return { kid: this.kid, private_key_pem: '[REDACTED]', certificate_chain_pem: this.certificate_chain_pem };
  }

  toString(): string { return `KeyMaterial(${this.kid}, private_key_pem [REDACTED])`; }

  [inspect.custom](_depth: number, options: object): string {
    return `KeyMaterial ${inspect(this.toJSON(), options)}`;
  }
}

/** A pushed authorization request (RFC 9126). */
export interface PushedAuthorizationRequest {
  /** The `request_uri` to send the user with. */
  request_uri: string;
  /** Seconds the request_uri is valid. */
  expires_in: number;
  /** From the AS metadata, if known. */
  authorization_endpoint: string;
  client_id: string;
  /** `authorization_endpoint?client_id=…&request_uri=…`: where to send the user (`''` if the endpoint is unknown). */
  authorization_url: string;
}

/** The options of {@link FapiAgentClient.getAccessToken}; each empty one means the credential's configured value. */
export interface AccessTokenOptions {
  /** Scopes (order and repeats do not matter). */
  scopes?: string[];
  /** Resource indicators (RFC 8707). */
  resource?: string[];
  /** An `audience` parameter. */
  audience?: string;
  /** Ask the authorization server even if a token is cached. */
  forceRefresh?: boolean;
  /** `client_credentials` (default) or `password` (the configured resource owner; outside FAPI only). */
  grant?: 'client_credentials' | 'password';
}

function loadPackage(): ProtoGrpcType {
  const def = protoLoader.loadSync('fapi_agent/v1/agent.proto', {
    includeDirs: [path.join(__dirname, '../../proto')],
    keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  });
  return grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
}

export class FapiAgentClient {
  readonly socketPath: string;
  private readonly agent: AgentClient;
  private readonly admin: AdminClient;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(socketPath: string = defaultSocketPath(), options: Options = {}) {
    checkSocket(socketPath, options.expectedUid);
    this.socketPath = socketPath;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 4;
    this.backoffMs = options.backoffMs ?? 100;
    const pkg = loadPackage();
    // The server rejects a socket path as :authority: name localhost.
    const channelOptions = { 'grpc.default_authority': 'localhost' };
    const creds = grpc.credentials.createInsecure();
    this.agent = new pkg.fapi_agent.v1.Agent(`unix:${socketPath}`, creds, channelOptions);
    this.admin = new pkg.fapi_agent.v1.Admin(`unix:${socketPath}`, creds, channelOptions);
  }

  close(): void {
    this.agent.close();
    this.admin.close();
  }

  private async call<Req, Res>(
    fn: (req: Req, opts: grpc.CallOptions, cb: grpc.requestCallback<Res>) => unknown, req: Req,
    retries = this.retries,
  ): Promise<Res> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<Res>((resolve, reject) => {
          fn(req, { deadline: Date.now() + this.timeoutMs }, (err, res) => (err ? reject(err) : resolve(res as Res)));
        });
      } catch (e) {
        const err = e as grpc.ServiceError;
        if (err.code === grpc.status.UNAVAILABLE && attempt < retries) {
          const wait = this.backoffMs * 2 ** attempt * (0.5 + Math.random() / 2);
          await new Promise((r) => setTimeout(r, wait));
          continue;
        }
        throw new AgentError(err.code ?? grpc.status.UNKNOWN, err.details ?? String(err));
      }
    }
  }

  /** A fresh private_key_jwt client assertion (never reuse one). */
  signClientAssertion(sel: Selector, opts: { audience?: string; lifetimeSeconds?: number } = {}): Promise<Assertion> {
    return this.call(this.agent.SignClientAssertion.bind(this.agent), {
      credential: selector(sel), audience: opts.audience ?? '', lifetime_seconds: opts.lifetimeSeconds ?? 0,
    });
  }

  /** Public facts of one credential. */
  getCredential(sel: Selector): Promise<Credential> {
    return this.call(this.agent.GetCredential.bind(this.agent), { credential: selector(sel) });
  }

  /** Public facts of every credential this caller may read. */
  async listCredentials(): Promise<Credential[]> {
    const r: ListCredentialsResponse__Output = await this.call(this.agent.ListCredentials.bind(this.agent), {});
    return r.credentials;
  }

  /** The public JWKS (optionally of one client) to register at the authorization server. */
  async jwks(clientId?: string): Promise<{ keys: Record<string, unknown>[] }> {
    const creds = await this.listCredentials();
    return {
      keys: creds.filter((c) => c.public_jwk_json && (!clientId || c.client_id === clientId))
        .map((c) => JSON.parse(c.public_jwk_json)),
    };
  }

  /**
   * Decrypts a shared secret the platform encrypted to the certificate (for
   * callers the `decrypt` policy allows). Where the daemon can keep the secret
   * (`shared_secrets`), prefer {@link hmac} and {@link passwordDigest}.
   */
  async decryptSecret(sel: Selector, ciphertext: Buffer,
    padding: 'PADDING_OAEP_SHA256' | 'PADDING_OAEP_SHA1' | 'PADDING_PKCS1_V15' = 'PADDING_OAEP_SHA256'): Promise<Secret> {
    const r: DecryptSecretResponse__Output = await this.call(this.agent.DecryptSecret.bind(this.agent), {
      credential: selector(sel), padding, ciphertext_raw: ciphertext,
    });
    return new Secret(r.plaintext);
  }

  /**
   * The credential's private key and chain, for a caller the `export` policy
   * allows and a credential with `export = true`. `exportPassphrase` is
   * required with `KEY_FORMAT_ENCRYPTED_PKCS8_PEM`.
   */
  async keyMaterial(sel: Selector,
    format: 'KEY_FORMAT_PKCS8_PEM' | 'KEY_FORMAT_ENCRYPTED_PKCS8_PEM' = 'KEY_FORMAT_PKCS8_PEM',
    exportPassphrase?: Buffer | string): Promise<KeyMaterial> {
    const r: GetKeyMaterialResponse__Output = await this.call(this.agent.GetKeyMaterial.bind(this.agent), {
      credential: selector(sel), format,
      export_passphrase: exportPassphrase === undefined ? Buffer.alloc(0) : Buffer.from(exportPassphrase),
    });
    return new KeyMaterial(r);
  }

  /**
   * An HMAC over `message` with the credential's shared secret `secret`
   * (`[credentials.N.shared_secrets.SECRET]`), which stays in the daemon.
   */
  async hmac(sel: Selector, secret: string, message: Buffer,
    alg: 'HMAC_SHA1' | 'HMAC_SHA256' | 'HMAC_SHA512' = 'HMAC_SHA256',
    encoding: 'MAC_ENCODING_HEX' | 'MAC_ENCODING_BASE64' | 'MAC_ENCODING_BASE64URL' = 'MAC_ENCODING_HEX'): Promise<string> {
    const r: HmacResponse__Output = await this.call(this.agent.Hmac.bind(this.agent), {
      credential: selector(sel), name: secret, alg, message, encoding,
    });
    return r.mac;
  }

  /**
   * A WS-Security UsernameToken password digest with the shared secret
   * `secret` as the password; without `nonce`/`created` the daemon chooses
   * them (returned).
   */
  async passwordDigest(sel: Selector, secret: string,
    opts: { nonce?: Buffer; created?: string } = {}): Promise<PasswordDigest> {
    return this.call(this.agent.PasswordDigest.bind(this.agent), {
      credential: selector(sel), name: secret, nonce: opts.nonce ?? Buffer.alloc(0), created: opts.created ?? '',
    });
  }

  /**
   * An access token for the credential's client (`[credentials.NAME.oauth]`):
   * client_credentials by default, DPoP- or mTLS-bound as configured, from the
   * daemon's cache while it is fresh. An authorization server's refusal is
   * `AgentError` FAILED_PRECONDITION quoting its error; a server down or slow
   * is UNAVAILABLE (retried like every call); a credential without an `oauth`
   * table is FAILED_PRECONDITION.
   */
  async getAccessToken(sel: Selector, opts: AccessTokenOptions = {}): Promise<AccessToken> {
    const grant = opts.grant === undefined ? 'GRANT_UNSPECIFIED'
      : opts.grant === 'password' ? 'GRANT_PASSWORD' : 'GRANT_CLIENT_CREDENTIALS';
    const r: AccessToken__Output = await this.call(this.agent.GetAccessToken.bind(this.agent), {
      credential: selector(sel), scopes: opts.scopes ?? [], resource: opts.resource ?? [],
      audience: opts.audience ?? '', force_refresh: opts.forceRefresh ?? false, grant,
    });
    return new AccessToken(r);
  }

  /**
   * Exchanges an authorization code and its PKCE verifier for tokens (the code
   * flow's last step), authenticated and sender-constrained like
   * getAccessToken. Not retried: a code is single-use, and replaying one
   * revokes the grant.
   */
  async exchangeAuthorizationCode(sel: Selector,
    req: { code: string; codeVerifier: string; redirectUri: string }): Promise<AccessToken> {
    const r: AccessToken__Output = await this.call(this.agent.ExchangeAuthorizationCode.bind(this.agent), {
      credential: selector(sel), code: req.code, code_verifier: req.codeVerifier, redirect_uri: req.redirectUri,
    }, 0);
    return new AccessToken(r);
  }

  /**
   * Uses a refresh token (a string, or the AccessToken that carries one),
   * optionally for narrower scopes. Not retried: a server that rotates refresh
   * tokens revokes the grant when one is replayed.
   */
  async refreshAccessToken(sel: Selector, refreshToken: string | AccessToken,
    opts: { scopes?: string[] } = {}): Promise<AccessToken> {
    const token = typeof refreshToken === 'string' ? refreshToken : refreshToken.refresh_token;
    const r: AccessToken__Output = await this.call(this.agent.RefreshAccessToken.bind(this.agent), {
      credential: selector(sel), refresh_token: token, scopes: opts.scopes ?? [],
    }, 0);
    return new AccessToken(r);
  }

  /**
   * Pushes an authorization request (RFC 9126) for the app's code flow:
   * `parameters` are response_type, redirect_uri, scope, state,
   * code_challenge, … (the daemon adds client_id, client authentication and
   * dpop_jkt itself). `signedRequestObject` sends them as a request object
   * signed with the credential's key (JAR).
   */
  async pushAuthorizationRequest(sel: Selector, parameters: Record<string, string>,
    opts: { signedRequestObject?: boolean } = {}): Promise<PushedAuthorizationRequest> {
    const r: PushAuthorizationRequestResponse__Output = await this.call(
      this.agent.PushAuthorizationRequest.bind(this.agent), {
        credential: selector(sel), parameters, signed_request_object: opts.signedRequestObject ?? false,
      });
    let authorizationUrl = '';
    if (r.authorization_endpoint) {
      const u = new URL(r.authorization_endpoint);
      u.searchParams.set('client_id', r.client_id);
      u.searchParams.set('request_uri', r.request_uri);
      authorizationUrl = u.toString();
    }
    return {
      request_uri: r.request_uri, expires_in: Number(r.expires_in),
      authorization_endpoint: r.authorization_endpoint, client_id: r.client_id, authorization_url: authorizationUrl,
    };
  }

  /**
   * A DPoP proof (RFC 9449) for a request the app makes itself, signed with
   * the credential's DPoP key: `htm` the HTTP method, `htu` the URL (query and
   * fragment are dropped), `accessToken` the token the request presents (sets
   * `ath`), `nonce` the server's latest DPoP-Nonce. A fresh `jti` every call.
   */
  signDpopProof(sel: Selector,
    req: { htm: string; htu: string; accessToken?: string | AccessToken; nonce?: string }): Promise<DpopProof> {
    const token = req.accessToken === undefined ? ''
      : typeof req.accessToken === 'string' ? req.accessToken : req.accessToken.access_token;
    return this.call(this.agent.SignDpopProof.bind(this.agent), {
      credential: selector(sel), htm: req.htm, htu: req.htu, access_token: token, nonce: req.nonce ?? '',
    });
  }

  /** Credential events: a snapshot first, then every change. */
  async *watchCredentials(clientId = ''): AsyncGenerator<CredentialEvent> {
    const stream = this.agent.WatchCredentials({ client_id: clientId });
    try {
      for await (const ev of stream) yield ev as CredentialEvent;
    } catch (e) {
      const err = e as grpc.ServiceError;
      if (err.code !== grpc.status.CANCELLED) throw new AgentError(err.code, err.details);
    } finally {
      stream.cancel();
    }
  }

  /** Daemon status (Admin: root, the daemon's uid or its admin group). */
  status(): Promise<StatusResponse> {
    return new Promise((resolve, reject) => {
      this.admin.Status({}, { deadline: Date.now() + this.timeoutMs }, (err, res) =>
        err ? reject(new AgentError(err.code, err.details)) : resolve(res as StatusResponse));
    });
  }
}
