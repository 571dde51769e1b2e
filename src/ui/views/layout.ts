// The frame of every page: head (styles and the one script, all served by pgwarden), the header with who is
// signed in and the sign-out form, and the main content.
import { type Html, html } from '../html.js';

export interface Viewer {
  tokenName: string;
  role: 'read' | 'operate';
  csrf: string;
}

export interface PageOptions {
  title: string;
  viewer?: Viewer | undefined;
  /** Overview: reload itself every this many seconds (in place with the script; a noscript refresh without). */
  refreshSeconds?: number | undefined;
  /** Pages with charts load uPlot. */
  charts?: boolean;
  flash?: { kind: 'ok' | 'error'; text: string } | undefined;
  body: Html;
}

export function csrfField(viewer: Viewer): Html {
  return html`<input type="hidden" name="csrf" value="${viewer.csrf}">`;
}

export function page(options: PageOptions): Html {
  const { viewer } = options;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · pgwarden</title>
<link rel="icon" href="/ui/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/assets/ui.css">
${options.charts ? html`<link rel="stylesheet" href="/ui/assets/uPlot.min.css">
<script src="/ui/assets/uPlot.iife.min.js" defer></script>` : ''}
<script src="/ui/assets/ui.js" defer></script>
${options.refreshSeconds ? html`<noscript><meta http-equiv="refresh" content="${options.refreshSeconds}"></noscript>` : ''}
</head>
<body${options.refreshSeconds ? html` data-refresh-seconds="${options.refreshSeconds}"` : ''}>
<header class="top">
  <a class="brand" href="/">pgwarden</a>
  ${
    viewer
      ? html`<div class="who">
    <span>Signed in with token <strong>${viewer.tokenName}</strong> (${viewer.role === 'operate' ? 'operate: can run actions' : 'read only'})</span>
    <form method="post" action="/signout" class="inline">${csrfField(viewer)}<button type="submit">Sign out</button></form>
  </div>`
      : ''
  }
</header>
<main id="main">
${options.flash ? html`<p class="flash flash-${options.flash.kind}" role="status">${options.flash.text}</p>` : ''}
${options.body}
</main>
</body>
</html>
`;
}
