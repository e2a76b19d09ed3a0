/**
 * A typed client for fapi-agent over its Unix socket.
 *
 *   const agent = new FapiAgentClient();                 // FAPI_AGENT_SOCKET or the default path
 *   const a = await agent.signClientAssertion({ clientId: 'acme' });
 *
 * Before connecting it checks that the path is a socket, owned by the
 * expected uid (your own, root, or `expectedUid` / FAPI_AGENT_SOCKET_OWNER),
 * in a directory others cannot write.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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

export type { Assertion, Credential, CredentialEvent, StatusResponse };

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
  ): Promise<Res> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<Res>((resolve, reject) => {
          fn(req, { deadline: Date.now() + this.timeoutMs }, (err, res) => (err ? reject(err) : resolve(res as Res)));
        });
      } catch (e) {
        const err = e as grpc.ServiceError;
        if (err.code === grpc.status.UNAVAILABLE && attempt < this.retries) {
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

  /** Decrypts a shared secret the platform encrypted to the certificate. */
  async decryptSecret(sel: Selector, ciphertext: Buffer,
    padding: 'PADDING_OAEP_SHA256' | 'PADDING_OAEP_SHA1' | 'PADDING_PKCS1_V15' = 'PADDING_OAEP_SHA256'): Promise<Buffer> {
    const r: DecryptSecretResponse__Output = await this.call(this.agent.DecryptSecret.bind(this.agent), {
      credential: selector(sel), padding, ciphertext_raw: ciphertext,
    });
    return r.plaintext;
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
