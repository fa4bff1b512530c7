/**
 * Starts the servers the conformance runs share, outside the runtime under test: one S3 server
 * (fauxqs, in this process) with a bucket per runtime, and one sqld per runtime (with JWT auth),
 * so runtimes can run side by side without sharing a database.
 */
import { type S3TestServer, startS3Server } from "../helpers/s3-servers.ts";
import { type SqldServer, startSqld } from "../helpers/sqld.ts";
import type { ConformanceServices } from "./context.ts";

export interface RunningServices {
  /** Services for one runtime: its own sqld and bucket. */
  forRuntime(runtime: string): ConformanceServices;
  stop(): Promise<void>;
}

/** The environment variable the Node and Deno runners read their services from (JSON). */
export const SERVICES_ENV = "CONFORMANCE_SERVICES";

export async function startConformanceServices(runtimes: readonly string[]): Promise<RunningServices> {
  const sqlds = new Map<string, SqldServer>();
  let s3: S3TestServer | undefined;
  const stop = async () => {
    await Promise.all([...sqlds.values()].map((server) => server.stop()));
    await s3?.dispose();
  };
  try {
    s3 = await startS3Server("fauxqs");
    for (const runtime of runtimes) {
      await s3.createBucket(bucketOf(runtime));
      sqlds.set(runtime, await startSqld({ auth: true }));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const server = s3;
  return {
    forRuntime(runtime) {
      const sqld = sqlds.get(runtime);
      if (!sqld) throw new Error(`no services were started for ${runtime}`);
      return {
        sqld: { url: sqld.url, wsUrl: sqld.wsUrl, libsqlUrl: sqld.libsqlUrl, authToken: sqld.authToken as string },
        s3: {
          endpoint: server.endpoint,
          region: server.region,
          bucket: bucketOf(runtime),
          accessKeyId: server.accessKeyId,
          secretAccessKey: server.secretAccessKey,
        },
      };
    },
    stop,
  };
}

function bucketOf(runtime: string): string {
  return `conformance-${runtime}`;
}
