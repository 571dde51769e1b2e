// Preloaded into the pgwarden process under benchmark (`node --import`): at exit it writes the process's own
// getrusage() — exact peak RSS and CPU time — to $PGWARDEN_BENCH_USAGE_FILE, which /proc sampling, 50 ms
// apart, can only approach; with the peaks of process.memoryUsage() sampled every 50 ms, which say where the
// memory was (V8 heap, Buffers). pgwarden passes a minimal environment to its children, so they never see it.
import { writeFileSync } from 'node:fs';

const file = process.env['PGWARDEN_BENCH_USAGE_FILE'];
if (file) {
  const peaks = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const now = process.memoryUsage();
    for (const key of Object.keys(peaks) as (keyof typeof peaks)[]) peaks[key] = Math.max(peaks[key], now[key]);
  };
  setInterval(sample, 50).unref();
  process.on('exit', () => {
    sample();
    writeFileSync(file, JSON.stringify({ ...process.resourceUsage(), memoryPeaks: peaks }));
  });
}
