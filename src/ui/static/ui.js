// pgwarden status page: the one script. Without it every page still works (the overview then refreshes by a
// <noscript> meta refresh); with it the overview refreshes in place (pausable) and the charts are drawn.


(() => {
  function formatBytes(v) {
    if (v === null || v === undefined) return '–';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return i === 0 ? v + ' B' : v.toFixed(v < 10 ? 2 : 1) + ' ' + units[i];
  }
  function formatSeconds(v) {
    if (v === null || v === undefined) return '–';
    if (v < 10) return `${Number(v.toFixed(2))} s`;
    if (v < 120) return `${Math.round(v)} s`;
    if (v < 7200) return `${Math.round(v / 60)} min`;
    return `${(v / 3600).toFixed(1)} h`;
  }

  // --- the overview refreshes itself in place ------------------------------------------------------------
  function startRefresh(seconds) {
    var controls = document.getElementById('refresh-controls');
    var paused = false;
    var button = document.createElement('button');
    button.type = 'button';
    button.id = 'refresh-toggle';
    button.textContent = 'Pause auto-refresh';
    button.setAttribute('aria-pressed', 'false');
    var note = document.createElement('span');
    note.className = 'muted';
    note.textContent = ' Refreshes every ' + seconds + ' s. ';
    button.addEventListener('click', () => {
      paused = !paused;
      button.textContent = paused ? 'Resume auto-refresh' : 'Pause auto-refresh';
      button.setAttribute('aria-pressed', paused ? 'true' : 'false');
    });

    function place() {
      var target = document.getElementById('refresh-controls');
      if (!target) return;
      target.textContent = '';
      target.appendChild(note);
      target.appendChild(button);
    }
    if (controls) place();

    function refresh() {
      if (paused || document.hidden) return;
      fetch(window.location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
        .then((response) => {
          if (response.redirected && /\/signin/.test(response.url)) {
            window.location.assign('/signin');
            return null;
          }
          if (!response.ok) return null;
          return response.text();
        })
        .then((text) => {
          if (!text) return;
          var next = new DOMParser().parseFromString(text, 'text/html').getElementById('main');
          var main = document.getElementById('main');
          if (!next || !main) return;
          var hadFocus = document.activeElement === button;
          main.replaceChildren.apply(main, Array.prototype.slice.call(next.childNodes).map((n) => document.importNode(n, true)));
          place();
          if (hadFocus) button.focus();
          document.body.setAttribute('data-refreshed-at', new Date().toISOString());
        })
        .catch(() => { /* the next tick tries again */ });
    }
    window.setInterval(refresh, seconds * 1000);
  }

  // --- charts --------------------------------------------------------------------------------------------
  var COLORS = ['#0b5cad', '#6b7280', '#b45309', '#7c3aed', '#047857', '#be123c'];

  function drawCharts() {
    var source = document.getElementById('chart-data');
    if (!source || typeof window.uPlot !== 'function') return;
    var charts = JSON.parse(source.textContent || '[]');
    charts.forEach((chart) => {
      var el = document.getElementById('chart-' + chart.id);
      if (!el || chart.x.length === 0) return;
      var fmt = chart.unit === 'bytes' ? formatBytes : formatSeconds;
      var series = [{ label: 'Time' }];
      var data = [chart.x];
      var colorIndex = 0;
      chart.series.forEach((s) => {
        var color = COLORS[colorIndex++ % COLORS.length];
        series.push({
          label: s.label,
          stroke: color,
          width: 2,
          dash: s.dashed ? [6, 4] : undefined,
          spanGaps: true,
          points: { show: true, size: 5 },
          value: (_u, v) => fmt(v),
        });
        data.push(s.values);
      });
      var width = Math.max(280, Math.min(el.clientWidth || 640, 960));
      var plot = new window.uPlot({
        width: width,
        height: 240,
        series: series,
        // One point (or one instant) would get a range of years: show an hour either side instead.
        scales: { x: { time: true, range: (_u, min, max) => (min === max ? [min - 3600, max + 3600] : [min, max]) } },
        axes: [{}, { size: 80, values: (_u, vals) => vals.map(fmt) }],
      }, data, el);
      el.setAttribute('data-points', String(plot.data[0].length));
      el.setAttribute('data-rendered', 'true');
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    var seconds = Number(document.body.getAttribute('data-refresh-seconds'));
    if (seconds > 0) startRefresh(seconds);
    drawCharts();
  });
})();
