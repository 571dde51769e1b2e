// Runs `pgwarden serve` as a child process, the way it runs in production, and waits until it listens.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { CLI } from './pgwarden.js';
import type { CleanupHooks } from './postgres.js';

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Sends a signal and resolves with the exit code. */
  terminate(signal?: NodeJS.Signals): Promise<number | null>;
  /** fetch against the service, with a bearer token when given. */
  api(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
}

export async function startServe(hooks: CleanupHooks, configPath: string, timeoutMs = 30_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, '--config', configPath, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = once(child, 'exit');
  hooks.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
    if (url) break;
    if (child.exitCode !== null) throw new Error(`pgwarden serve exited with ${child.exitCode}: ${err}`);
    if (Date.now() > deadline) throw new Error(`pgwarden serve did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const base = url;
  return {
    url: base,
    child,
    stdout: () => out,
    stderr: () => err,
    async terminate(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
    api(path, init = {}) {
      const { token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token) headers.set('authorization', `Bearer ${token}`);
      return fetch(`${base}${path}`, { ...rest, headers });
    },
  };
}
