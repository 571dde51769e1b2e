#!/usr/bin/env node
// Entry point installed as `pgwarden`: runs the CLI bundled by `npm run build` (dist/bundle, see
// scripts/bundle.js; `npm ci` builds it through the prepare script). wal-push and wal-fetch run once per WAL
// segment from PostgreSQL's archive/restore_command: they get a small entry point that starts fast.
// The AWS SDK warns once per process, on stderr, that its releases after early 2027 need Node 22. Our SDK
// versions are pinned and the image runs Node 22; on Node 20 the warning would land in PostgreSQL's log at
// every WAL segment (wal-push, wal-fetch), so it is silenced unless the operator set the variable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const args = process.argv.slice(2);
const wal = args.some((a) => a === 'wal-push' || a === 'wal-fetch');
const { main } = await import(wal ? '../dist/bundle/wal-main.js' : '../dist/bundle/main.js');

process.exitCode = await main(process.argv);
