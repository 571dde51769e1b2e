// A real small disk for full-disk tests: a tmpfs mounted for the length of one function (needs root, as CI
// runs). Unmounted in a finally, not in an after hook: the hook removing the test's temp dir would run first.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function withTmpfs<T>(mountPoint: string, sizeMiB: number, fn: () => Promise<T>): Promise<T> {
  await mkdir(mountPoint, { recursive: true });
  await exec('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', mountPoint]);
  try {
    return await fn();
  } finally {
    await exec('umount', ['-l', mountPoint]).catch(() => {});
  }
}
