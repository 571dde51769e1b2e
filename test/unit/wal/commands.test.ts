// The archive_command / restore_command lines pgwarden writes into a server's configuration: absolute paths,
// quoted for /bin/sh, '%' doubled for PostgreSQL's own substitution — checked by running them through a shell
// after substituting %p/%f exactly as the server does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { archiveCommandFor, restoreCommandFor, serverCommandWord, shellQuote } from '../../../src/wal/commands.js';

const run = promisify(execFile);

/** PostgreSQL's substitution in archive_command/restore_command (shell_archive.c, BuildRestoreCommand). */
function substitute(command: string, values: Record<string, string>): string {
  return command.replace(/%(.)/g, (whole, letter: string) => (letter === '%' ? '%' : (values[letter] ?? whole)));
}

describe('server commands', () => {
  it('quotes only what needs quoting, and escapes single quotes the POSIX way', () => {
    assert.equal(shellQuote('/usr/bin/node'), '/usr/bin/node');
    assert.equal(shellQuote('a b'), `'a b'`);
    assert.equal(shellQuote(`it's`), `'it'\\''s'`);
    assert.equal(shellQuote(''), `''`);
    assert.equal(shellQuote('$HOME`x`'), `'$HOME\`x\`'`);
    assert.equal(serverCommandWord('/data/100%/x'), '/data/100%%/x');
    assert.throws(() => serverCommandWord('a\nb'), /control character/);
  });

  it('names node, the CLI and the config by absolute path, with %p / %f %p left for the server', () => {
    const push = archiveCommandFor('/etc/pgwarden/pgwarden.yml', 'hotel_extranet', { node: '/usr/bin/node', entry: '/opt/pgwarden/bin/pgwarden.js' });
    assert.equal(push, '/usr/bin/node /opt/pgwarden/bin/pgwarden.js --config /etc/pgwarden/pgwarden.yml wal-push --database hotel_extranet %p');
    const fetch = restoreCommandFor('/etc/pgwarden/pgwarden.yml', 'hotel_extranet', { node: '/usr/bin/node', entry: '/opt/pgwarden/bin/pgwarden.js', timeoutSeconds: 30 });
    assert.equal(fetch, '/usr/bin/node /opt/pgwarden/bin/pgwarden.js --config /etc/pgwarden/pgwarden.yml wal-fetch --database hotel_extranet --timeout 30 %f %p');
    const defaults = archiveCommandFor('relative/pgwarden.yml', 'db');
    assert.ok(defaults.startsWith(`${shellQuote(process.execPath)} `), defaults);
    assert.match(defaults, /\/bin\/pgwarden\.js --config \/\S+\/relative\/pgwarden\.yml wal-push --database db %p$/);
    assert.throws(() => archiveCommandFor('/c.yml', 'db', { node: 'node' }), /must be absolute/);
  });

  it('survives spaces, quotes, $, backticks and % in every path when run by /bin/sh', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'pgwarden-quote-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const dir = join(root, `it's a "dir" with $HOME, \`x\` & 100%`);
    await mkdir(dir);
    // A stand-in for node: prints each argument it got on its own line.
    const fakeNode = join(dir, 'no de');
    const out = join(root, 'args.txt');
    await writeFile(fakeNode, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > ${shellQuote(out)}\n`);
    await chmod(fakeNode, 0o755);
    const entry = join(dir, 'bin', 'pgwarden.js');
    const config = join(dir, 'pg warden.yml');

    const archive = archiveCommandFor(config, 'shop.eu-1', { node: fakeNode, entry });
    await run('/bin/sh', ['-c', substitute(archive, { p: 'pg_wal/000000010000000000000003' })]);
    assert.deepEqual((await readFile(out, 'utf8')).split('\n').slice(0, -1), [
      entry,
      '--config',
      config,
      'wal-push',
      '--database',
      'shop.eu-1',
      'pg_wal/000000010000000000000003',
    ]);

    const restore = restoreCommandFor(config, 'shop.eu-1', { node: fakeNode, entry });
    await run('/bin/sh', ['-c', substitute(restore, { f: '00000002.history', p: 'pg_wal/RECOVERYHISTORY' })]);
    assert.deepEqual((await readFile(out, 'utf8')).split('\n').slice(0, -1), [
      entry,
      '--config',
      config,
      'wal-fetch',
      '--database',
      'shop.eu-1',
      '00000002.history',
      'pg_wal/RECOVERYHISTORY',
    ]);
  });
});
