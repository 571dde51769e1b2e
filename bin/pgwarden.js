#!/usr/bin/env node
// Entry point installed as `pgwarden`: runs the compiled CLI (built by `npm ci` through the prepare script).
// wal-push and wal-fetch run once per WAL segment from PostgreSQL's archive/restore_command: they get a
// small entry point that starts fast.
const args = process.argv.slice(2);
const wal = args.some((a) => a === 'wal-push' || a === 'wal-fetch');
const { main } = await import(wal ? '../dist/src/cli/wal-main.js' : '../dist/src/cli/main.js');

process.exitCode = await main(process.argv);
