// Pull-mode WAL archiving against a real server: pg_receivewal on a replication slot it creates, every
// completed segment pushed to storage, pg_receivewal killed with SIGKILL mid-stream and restarted, pgwarden
// itself stopped and started again — and the archive holds every segment from the first to the last.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../../src/config/index.js';
import { createKeyRing, keyRingFromConfig } from '../../../src/crypto/keyring.js';
import { startTool } from '../../../src/postgres/run-tool.js';
import { createLocalDriver } from '../../../src/storage/local/driver.js';
import { fetchWalFile, findWalGaps, listArchivedWal } from '../../../src/wal/archive.js';
import { compareSegments, DEFAULT_SEGMENT_SIZE, parseWalFileName, segmentStartLsn } from '../../../src/wal/names.js';
import { ensureSlot, startWalReceiver, type WalArchivedEvent, type WalReceiver } from '../../../src/wal/receiver.js';
import { startWalArchiving } from '../../../src/wal/service.js';
import { startFakeKms } from '../../helpers/fake-kms.js';
import { type Cluster, clusterForSuite } from '../../helpers/postgres.js';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('pg_receivewal receiver', () => {
  const pg = clusterForSuite();

  async function switchWal(cluster: Cluster): Promise<string> {
    await cluster.query(`INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 2000) i`);
    const { rows } = await cluster.query<{ name: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS name');
    return rows[0]!.name;
  }

  it('archives every segment across a SIGKILL of pg_receivewal and a restart of the receiver, with no gap', async (t) => {
    const cluster = pg();
    await cluster.query('CREATE TABLE IF NOT EXISTS items (id int, payload text)');
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-receiver-'));
    const storage = createLocalDriver({ root: join(dir, 'store') });
    const keyring = createKeyRing([{ id: 'k1', key: Buffer.alloc(32, 7).toString('base64') }]);
    const spoolDir = join(dir, 'spool');
    const events: WalArchivedEvent[] = [];
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const receivers: WalReceiver[] = [];
    // after hooks run in the order they were added: the directory goes only once nothing writes into it.
    t.after(async () => {
      for (const r of receivers) await r.stop();
      await rm(dir, { recursive: true, force: true });
    });
    const start = () => {
      const receiver = startWalReceiver({
        database: { name: 'app', url: cluster.url() },
        storage,
        prefix: 'pfx',
        compression: { algorithm: 'gzip', level: 1 },
        encryptionKey: keyring.encryptionKey(),
        keyring,
        spoolDir,
        pgBinDir: cluster.binDir,
        logger,
        onSegment: (event) => events.push(event),
        restartDelayMs: 200,
        pollIntervalMs: 200,
        statusIntervalSeconds: 1,
      });
      receivers.push(receiver);
      return receiver;
    };
    const archivedNames = async () => new Set((await listArchivedWal(storage, 'pfx', 'app')).objects.keys());
    const waitArchived = (names: string[]) =>
      eventually(`${names.join(', ')} are archived`, async () => {
        const have = await archivedNames();
        return names.every((n) => have.has(n)) ? true : undefined;
      });

    let receiver = start();
    await eventually('pg_receivewal streams', () => (receiver.status().streaming ? true : undefined));
    const { rows: slots } = await cluster.query<{ slot_type: string }>("SELECT slot_type FROM pg_replication_slots WHERE slot_name = 'pgwarden_app'");
    assert.deepEqual(slots, [{ slot_type: 'physical' }], 'the receiver created its replication slot');

    const switched: string[] = [];
    for (let i = 0; i < 3; i++) switched.push(await switchWal(cluster));
    await waitArchived(switched);
    const firstEvent = events.find((e) => e.name === switched[0]);
    assert.deepEqual(firstEvent?.outcomes, { local: 'stored' });
    // The status follows the store (the object is committed first), so it may trail the listing by a moment.
    await eventually('the status names the newest segment', () => (receiver.status().lastSegment === switched.at(-1) ? true : undefined));
    assert.ok(receiver.status().lastSegmentArchivedAt instanceof Date);

    // SIGKILL mid-stream: WAL keeps coming while nothing receives it; the slot keeps it on the server.
    const killed = receiver.status().pid!;
    await cluster.query(`INSERT INTO items SELECT i, 'half a segment' FROM generate_series(1, 500) i`);
    process.kill(killed, 'SIGKILL');
    for (let i = 0; i < 3; i++) switched.push(await switchWal(cluster));
    await eventually('pg_receivewal was restarted', () => {
      const s = receiver.status();
      return s.restarts >= 1 && s.running && s.pid !== killed ? true : undefined;
    });
    assert.ok(warnings.some((w) => /killed by SIGKILL/.test(w)), warnings.join('\n'));
    await waitArchived(switched);

    // The receiver itself stops (as on SIGTERM of pgwarden serve) and starts again later over the same spool,
    // in the middle of a segment.
    await cluster.query(`INSERT INTO items SELECT i, 'open segment' FROM generate_series(1, 500) i`);
    const partial = await eventually('pg_receivewal writes the open segment as .partial', async () => (await readdir(spoolDir)).find((f) => f.endsWith('.partial')));
    const pid = receiver.status().pid!;
    await receiver.stop();
    assert.equal(receiver.status().running, false);
    assert.equal(isAlive(pid), false, 'stop() ended pg_receivewal');
    await eventually('the slot is released', async () => {
      const { rows } = await cluster.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'pgwarden_app'");
      return rows[0]?.active === false ? true : undefined;
    });
    for (let i = 0; i < 2; i++) switched.push(await switchWal(cluster));
    // As if pg_receivewal had been killed while padding a new segment: it would refuse to start on this file.
    await truncate(join(spoolDir, partial), 4096);
    receiver = start();
    for (let i = 0; i < 2; i++) switched.push(await switchWal(cluster));
    await waitArchived(switched);
    assert.ok(warnings.some((w) => w.includes('removing a partly padded .partial file')), warnings.join('\n'));

    const archive = await listArchivedWal(storage, 'pfx', 'app');
    const segments = archive.segments.get(1)!;
    assert.ok(compareSegments(segments[0]!, switched[0]!) <= 0);
    assert.deepEqual(findWalGaps(archive, { from: segments[0]!, to: switched.at(-1)! }), [], `archived: ${segments.join(', ')}`);
    assert.ok([...archive.objects.values()].every((o) => o.path.endsWith('.gz.enc')));

    // What is archived is what the server wrote: a fetched segment holds the server's WAL header.
    const fetched = join(dir, 'fetched');
    assert.equal(await fetchWalFile({ storage, prefix: 'pfx', database: 'app', name: switched[0]!, destination: fetched, keyring }), 'restored');
    const bytes = await readFile(fetched);
    assert.equal(bytes.length, DEFAULT_SEGMENT_SIZE);
    assert.equal(bytes.readUInt32LE(4), 1, 'page header: timeline 1');
    assert.equal(bytes.readBigUInt64LE(8), segmentStartLsn(switched[0]!, DEFAULT_SEGMENT_SIZE), 'page header: the segment start LSN');

    // The spool keeps only the newest archived segment (pg_receivewal's resume point) and the open .partial.
    await eventually('the spool is drained', async () => {
      const complete = (await readdir(spoolDir)).filter((f) => parseWalFileName(f)?.kind === 'segment');
      return complete.length <= 1 ? true : undefined;
    });

    if (process.env['PGWARDEN_TEST_DEBUG']) console.log(warnings.join(''));
    const last = receiver.status();
    await receiver.stop();
    assert.equal(isAlive(last.pid!), false);
    assert.equal(last.lastSegment, switched.at(-1));
  });

  it('restarts pg_receivewal when the server restarts, and resumes without a gap', async (t) => {
    const cluster = pg();
    await cluster.query('CREATE TABLE IF NOT EXISTS items (id int, payload text)');
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-receiver-'));
    const storage = createLocalDriver({ root: join(dir, 'store') });
    const receiver = startWalReceiver({
      database: { name: 'down', url: cluster.url() },
      storage,
      prefix: '',
      compression: { algorithm: 'none', level: 0 },
      spoolDir: join(dir, 'spool'),
      slotName: 'pgwarden_down_test',
      pgBinDir: cluster.binDir,
      logger: silent,
      restartDelayMs: 100,
      maxRestartDelayMs: 400,
      pollIntervalMs: 200,
    });
    t.after(async () => {
      await receiver.stop();
      await cluster.query("SELECT pg_drop_replication_slot('pgwarden_down_test')").catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });
    await eventually('pg_receivewal streams', () => (receiver.status().streaming ? true : undefined));
    const switched = [await switchWal(cluster)];
    await eventually('the first segment is archived', async () => ((await listArchivedWal(storage, '', 'down')).objects.has(switched[0]!) ? true : undefined));

    // A fast stop of the server ends pg_receivewal's connection; restarting the server brings it back.
    const restarts = receiver.status().restarts;
    await cluster.query('CHECKPOINT');
    await restartServer(cluster);
    await eventually('pg_receivewal noticed the server went away', () => (receiver.status().restarts > restarts ? true : undefined));
    for (let i = 0; i < 2; i++) switched.push(await switchWal(cluster));
    await eventually('the receiver is back', () => (receiver.status().running ? true : undefined));
    await eventually('every segment is archived', async () => {
      const have = (await listArchivedWal(storage, '', 'down')).objects;
      return switched.every((n) => have.has(n)) ? true : undefined;
    });
    const archive = await listArchivedWal(storage, '', 'down');
    assert.deepEqual(findWalGaps(archive, { from: switched[0]!, to: switched.at(-1)! }), []);
  });

  it('serve-side archiving runs one receiver per database with pitr: true, and stops them all', async (t) => {
    const cluster = pg();
    await cluster.query('CREATE TABLE IF NOT EXISTS items (id int, payload text)');
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-receiver-'));
    const config = parseConfig(
      [
        `catalog: { url: "${cluster.url()}" }`,
        'databases:',
        `  - { name: shop, url: "${cluster.url()}", pitr: true }`,
        `  - { name: plain, url: "${cluster.url()}" }`,
        'storage: { local: { path: store } }',
        `backup: { pgBinDir: "${cluster.binDir}" }`,
      ].join('\n'),
      { baseDir: dir },
    );
    const storage = createLocalDriver({ root: join(dir, 'store') });
    const archiving = startWalArchiving(config, { storage, keyring: undefined, logger: silent, spoolRoot: join(dir, 'spool'), restartDelayMs: 200 });
    t.after(async () => {
      await archiving.stop();
      await rm(dir, { recursive: true, force: true });
    });
    assert.deepEqual([...archiving.receivers.keys()], ['shop']);
    await eventually('pg_receivewal streams', () => (archiving.status()[0]?.streaming ? true : undefined));
    const name = await switchWal(cluster);
    await eventually(`${name} is archived for "shop"`, async () => ((await listArchivedWal(storage, '', 'shop')).objects.has(name) ? true : undefined));
    assert.equal((await listArchivedWal(storage, '', 'shop')).objects.get(name)?.path, `shop/wal/00000001/${name}.zst`);
    assert.equal((await listArchivedWal(storage, '', 'plain')).objects.size, 0);
    const pid = archiving.status()[0]!.pid!;
    await archiving.stop();
    assert.equal(isAlive(pid), false);
    assert.deepEqual(
      archiving.status().map((s) => s.running),
      [false],
    );
    await cluster.query("SELECT pg_drop_replication_slot('pgwarden_shop')");
  });

  it('serve-side archiving with KMS only: a data key per segment; KMS down keeps segments in the spool until it is back', async (t) => {
    const kms = await startFakeKms(t);
    const cluster = pg();
    await cluster.query('CREATE TABLE IF NOT EXISTS items (id int, payload text)');
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-receiver-'));
    const config = parseConfig(
      [
        `catalog: { url: "${cluster.url()}" }`,
        'databases:',
        `  - { name: vault, url: "${cluster.url()}", pitr: true }`,
        'storage: { local: { path: store } }',
        `backup: { pgBinDir: "${cluster.binDir}" }`,
        'encryption:',
        kms.configYaml('alias/backups', 'timeoutSeconds: 1'),
      ].join('\n'),
      { baseDir: dir },
    );
    const storage = createLocalDriver({ root: join(dir, 'store') });
    const keyring = keyRingFromConfig(config.encryption);
    const archiving = startWalArchiving(config, { storage, keyring, logger: silent, spoolRoot: join(dir, 'spool'), restartDelayMs: 200 });
    t.after(async () => {
      await archiving.stop();
      await cluster.query("SELECT pg_drop_replication_slot('pgwarden_vault')").catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });
    await eventually('pg_receivewal streams', () => (archiving.status()[0]?.streaming ? true : undefined));
    const archived = async () => (await listArchivedWal(storage, '', 'vault')).objects;
    const first = await switchWal(cluster);
    await eventually(`${first} is archived`, async () => ((await archived()).has(first) ? true : undefined));
    const object = (await archived()).get(first)!;
    assert.equal(object.path, `vault/wal/00000001/${first}.zst.enc`);
    assert.equal((await readFile(join(dir, 'store', object.path))).subarray(0, 6).toString(), 'PGWKMS');

    await kms.down();
    const second = await switchWal(cluster);
    await eventually('the receiver reports the KMS outage', () => (/KMS endpoint .* is unreachable/.test(archiving.status()[0]?.lastError ?? '') ? true : undefined));
    assert.equal((await archived()).has(second), false);
    assert.ok((await readdir(join(dir, 'spool', 'vault'))).includes(second), 'the segment waits in the spool');
    await kms.up();
    await eventually(`${second} is archived once KMS is back`, async () => ((await archived()).has(second) ? true : undefined), 90_000);
    const fetched = join(dir, 'fetched');
    assert.equal(await fetchWalFile({ storage, prefix: '', database: 'vault', name: second, destination: fetched, keyring }), 'restored');
    assert.equal((await readFile(fetched)).length, DEFAULT_SEGMENT_SIZE);
    const objects = (await archived()).size;
    // Calls made while it was down never reached it: one data key per archived file.
    assert.equal(kms.calls.GenerateDataKey, objects);
  });

  it('stops a pg_receivewal orphaned by a pgwarden that died, and takes over its slot and spool', async (t) => {
    const cluster = pg();
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-receiver-'));
    const spoolDir = join(dir, 'spool');
    await mkdir(spoolDir);
    await ensureSlot(cluster.url(), 'pgwarden_orphan', 'orphan');
    const orphan = startTool(join(cluster.binDir, 'pg_receivewal'), ['--directory', spoolDir, '--slot', 'pgwarden_orphan', '--dbname', cluster.url(), '--no-loop']);
    t.after(() => orphan.kill('SIGKILL'));
    await eventually('the orphan holds the slot', async () => {
      const { rows } = await cluster.query<{ active: boolean }>("SELECT active FROM pg_replication_slots WHERE slot_name = 'pgwarden_orphan'");
      return rows[0]?.active ? true : undefined;
    });
    // The pgwarden that started it is gone: a pid that has exited.
    const gone = startTool('true', []);
    await gone.done;
    await writeFile(join(spoolDir, 'pgwarden-receiver.json'), JSON.stringify({ owner: gone.child.pid, receiver: orphan.child.pid }));

    const receiver = startWalReceiver({
      database: { name: 'orphan', url: cluster.url() },
      storage: createLocalDriver({ root: join(dir, 'store') }),
      prefix: '',
      compression: { algorithm: 'none', level: 0 },
      spoolDir,
      pgBinDir: cluster.binDir,
      logger: silent,
      restartDelayMs: 100,
    });
    // after hooks run in the order they were added: the directory goes only once nothing writes into it.
    t.after(async () => {
      await receiver.stop();
      await cluster.query("SELECT pg_drop_replication_slot('pgwarden_orphan')").catch(() => {});
      await rm(dir, { recursive: true, force: true });
    });
    await eventually('the receiver streams on the slot', () => (receiver.status().streaming ? true : undefined));
    await assert.rejects(orphan.done, /SIGTERM|exited/);
    assert.equal(receiver.status().restarts, 0, 'no failed start on a busy slot');
  });
});

/** pg_ctl restart as the server's user: the port and data directory stay the same. */
async function restartServer(cluster: Cluster): Promise<void> {
  const { runToolForText } = await import('../../../src/postgres/run-tool.js');
  const args = ['restart', '-D', cluster.dataDir, '-m', 'fast', '-w', '-t', '60', '-s', '-l', cluster.logFile];
  const asRoot = process.getuid?.() === 0;
  await runToolForText(asRoot ? 'runuser' : join(cluster.binDir, 'pg_ctl'), asRoot ? ['-u', 'postgres', '--', join(cluster.binDir, 'pg_ctl'), ...args] : args, {
    env: { LC_ALL: 'C' },
    cwd: cluster.baseDir,
  });
}
