// The files the status page loads, all served by pgwarden itself (it must work offline, no CDN): its own
// script and stylesheet, and uPlot's build from node_modules. Read once at start.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRoot } from '../package-root.js';

export interface Asset {
  body: Buffer;
  contentType: string;
}

export function loadAssets(): Map<string, Asset> {
  const own = join(packageRoot(), 'src', 'ui', 'static');
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot'));
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  return new Map<string, Asset>([
    ['ui.js', { body: readFileSync(join(own, 'ui.js')), contentType: js }],
    ['ui.css', { body: readFileSync(join(own, 'ui.css')), contentType: css }],
    ['favicon.svg', { body: readFileSync(join(own, 'favicon.svg')), contentType: 'image/svg+xml' }],
    ['uPlot.iife.min.js', { body: readFileSync(join(uplot, 'uPlot.iife.min.js')), contentType: js }],
    ['uPlot.min.css', { body: readFileSync(join(uplot, 'uPlot.min.css')), contentType: css }],
  ]);
}
