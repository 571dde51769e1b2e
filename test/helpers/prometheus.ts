// A real Prometheus (Debian package) scraping targets on loopback every second, queried over its HTTP API.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CleanupHooks } from './postgres.js';

export interface PrometheusTarget {
  /** host:port */
  address: string;
  basicAuth?: { username: string; password: string };
}

export interface Prometheus {
  url: string;
  /** Instant query; returns the result vector. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Polls `query` until `accept` holds for its result, or fails after `timeoutMs`. */
  waitFor(promql: string, accept: (result: { metric: Record<string, string>; value: number }[]) => boolean, timeoutMs?: number): Promise<{ metric: Record<string, string>; value: number }[]>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startPrometheus(hooks: CleanupHooks, targets: PrometheusTarget[]): Promise<Prometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'pgwarden-prometheus-'));
  const port = await freePort();
  const scrapeConfigs = targets
    .map(
      (t, i) => `  - job_name: pgwarden${i}
    scrape_interval: 1s
    scrape_timeout: 900ms
${t.basicAuth ? `    basic_auth: { username: "${t.basicAuth.username}", password: "${t.basicAuth.password}" }\n` : ''}    static_configs: [ { targets: ["${t.address}"] } ]`,
    )
    .join('\n');
  await writeFile(join(dir, 'prometheus.yml'), `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n${scrapeConfigs}\n`);
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=http://127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  hooks.after(async () => {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;

  const query: Prometheus['query'] = async (promql) => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { status: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] }; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus query ${promql} failed: ${body.error}`);
    return body.data!.result;
  };

  const waitFor: Prometheus['waitFor'] = async (promql, accept, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: { metric: Record<string, string>; value: number }[] = [];
    for (;;) {
      try {
        last = (await query(promql)).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
        if (accept(last)) return last;
      } catch {
        // Not up yet.
      }
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${promql}; last result ${JSON.stringify(last)}`);
      await sleep(250);
    }
  };

  // The first scrape happens a few seconds after start: wait until every target is up.
  await waitFor('up', (r) => r.length === targets.length && r.every((s) => s.value === 1), 30_000);
  return { url, query, waitFor };
}
