// The database page's charts as uPlot wants them: one shared x axis (unix seconds) and one array per series,
// null where a series has no point at that time. Built here, so the browser script only draws.
import type { DatabaseDetail } from '../status/types.js';

export interface ChartSeries {
  label: string;
  /** bytes | seconds: how the script formats the axis and the legend. */
  unit: 'bytes' | 'seconds';
  values: (number | null)[];
  /** Drawn dashed (an expectation, not a measurement). */
  dashed?: boolean;
}

export interface ChartData {
  id: string;
  title: string;
  unit: 'bytes' | 'seconds';
  x: number[];
  series: ChartSeries[];
}

/** Aligns several (t, value) lists on the union of their times. */
export function alignSeries(lists: { label: string; unit: 'bytes' | 'seconds'; dashed?: boolean; points: { t: number; v: number | null }[] }[]): { x: number[]; series: ChartSeries[] } {
  const x = [...new Set(lists.flatMap((l) => l.points.map((p) => p.t)))].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const series = lists.map((l) => {
    const values = new Array<number | null>(x.length).fill(null);
    for (const p of l.points) values[index.get(p.t)!] = p.v;
    const s: ChartSeries = { label: l.label, unit: l.unit, values };
    if (l.dashed) s.dashed = true;
    return s;
  });
  return { x, series };
}

export function chartsOf(detail: DatabaseDetail): ChartData[] {
  const kinds = (['full', 'base', 'incremental'] as const).filter((k) => (detail.charts.kinds[k] ?? []).length > 0);
  const charts: ChartData[] = [];
  const size = alignSeries(
    kinds.flatMap((k) => {
      const points = detail.charts.kinds[k]!;
      return [
        { label: `${k} size`, unit: 'bytes' as const, points: points.map((p) => ({ t: p.t, v: p.sizeBytes })) },
        { label: `${k} expected`, unit: 'bytes' as const, dashed: true, points: points.map((p) => ({ t: p.t, v: p.expectedBytes })) },
      ];
    }),
  );
  charts.push({ id: 'size', title: 'Backup size against the expected size', unit: 'bytes', ...size });
  const duration = alignSeries(
    kinds.map((k) => ({ label: `${k} duration`, unit: 'seconds' as const, points: detail.charts.kinds[k]!.map((p) => ({ t: p.t, v: p.durationSeconds })) })),
  );
  charts.push({ id: 'duration', title: 'Backup duration', unit: 'seconds', ...duration });
  const standbys = Object.keys(detail.charts.lag).sort();
  if (standbys.length > 0 || detail.overview.standbys.length > 0) {
    const lag = alignSeries(standbys.map((s) => ({ label: `${s} lag`, unit: 'seconds' as const, points: detail.charts.lag[s]!.map((p) => ({ t: p.t, v: p.lagSeconds })) })));
    charts.push({ id: 'lag', title: 'Replication lag', unit: 'seconds', ...lag });
  }
  return charts;
}
