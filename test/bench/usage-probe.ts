// Preloaded into the pgwarden process under benchmark (`node --import`): at exit it writes the process's own
// getrusage() — exact peak RSS and CPU time — to $PGWARDEN_BENCH_USAGE_FILE, which /proc sampling, 50 ms
// apart, can only approach. pgwarden passes a minimal environment to its children, so they never see it.
import { writeFileSync } from 'node:fs';

const file = process.env['PGWARDEN_BENCH_USAGE_FILE'];
if (file) process.on('exit', () => writeFileSync(file, JSON.stringify(process.resourceUsage())));
