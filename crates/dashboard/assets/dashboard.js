// fraudstream dashboard: follows the server's event stream and renders it. No framework, no build step.
//
// Events (see crates/dashboard/src/http.rs): `init` carries everything (info, snapshot, 2 minutes of history,
// recent alerts) and is the first event of every connection, so a reconnect simply starts over from it;
// `snapshot` replaces the numbers (and, once the job publishes it, `monitoring`: per-model quality and drift);
// `alert` adds one row; `ping` says the connection is alive while the job is quiet.
'use strict';

(() => {
  const HISTORY_SECONDS = 120;
  const MAX_ROWS = 100;
  const TOP_DRIVERS = 3;
  const STALE_AFTER_MS = 15000; // no event at all (pings come every 5 s): the connection is dead
  const RETRY_MS = [1000, 2000, 5000, 10000];

  const $ = (id) => document.getElementById(id);
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const intFmt = new Intl.NumberFormat('en-US');
  const usdFmt = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

  const finite = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const fmtInt = (x) => (finite(x) === null ? '—' : intFmt.format(Math.round(x)));
  const fmtRate = (x) => {
    if (finite(x) === null) return '—';
    return x >= 100 ? intFmt.format(Math.round(x)) : x.toFixed(1);
  };
  const fmtMs = (x) => {
    if (finite(x) === null) return '—';
    if (x < 10) return x.toFixed(2);
    if (x < 100) return x.toFixed(1);
    return intFmt.format(Math.round(x));
  };
  const fmtPct = (num, den) => (den > 0 && finite(num) !== null ? `${((100 * num) / den).toFixed(2)} %` : '—');
  const fmtShare = (x) => (finite(x) === null ? '—' : `${(100 * x).toFixed(1)} %`);
  const fmtSeconds = (x) => {
    if (finite(x) === null) return '—';
    if (x < 60) return `${x.toFixed(1)} s`;
    const s = Math.floor(x);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = (n) => String(n).padStart(2, '0');
    return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
  };
  const fmtEventTime = (iso) => {
    if (typeof iso !== 'string') return '—';
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
    return m ? `${m[1]} ${m[2]}` : iso;
  };

  const view = {
    info: null,
    history: [],
    lastSeq: 0,
    alertsShown: 0,
    alertsRaised: 0,
    source: null,
    lastEventAt: 0,
    retries: 0,
    retryTimer: null,
  };

  function setText(id, text) {
    const el = $(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  function setConnection(kind, text) {
    const el = $('connection');
    el.dataset.conn = kind;
    setText('connection-text', text);
  }

  // ---- header -------------------------------------------------------------------------------------------------

  const STATE_LABELS = { waiting: 'Waiting for data', running: 'Running', finished: 'Finished', failed: 'Failed' };

  function renderInfo(info) {
    view.info = info;
    const title = info.title || 'fraudstream';
    setText('title', title);
    document.title = `${title} · dashboard`;
    const model = [info.model_name, info.model_version].filter((s) => s).join(' v');
    setText('model', model || '—');
    setText('threshold', finite(info.threshold) === null ? '—' : info.threshold.toFixed(3));
  }

  function renderState(state, message) {
    const badge = $('run-state');
    const known = Object.prototype.hasOwnProperty.call(STATE_LABELS, state) ? state : 'waiting';
    badge.dataset.state = known;
    setText('run-state', STATE_LABELS[known]);
    const msg = $('run-message');
    if (message && (known === 'finished' || known === 'failed')) {
      msg.hidden = false;
      msg.dataset.state = known;
      setText('run-message', message);
    } else {
      msg.hidden = true;
    }
  }

  // ---- tiles --------------------------------------------------------------------------------------------------

  function renderTiles(s) {
    setText('elapsed', fmtSeconds(s.elapsed_seconds));
    setText('v-scored', fmtInt(s.scored));
    setText('s-scored', `${fmtInt(s.transactions_in)} read from the source`);
    setText('v-throughput', fmtRate(s.throughput_tps));
    const peak = view.history.reduce((m, p) => Math.max(m, finite(p.tps) ?? 0), 0);
    setText('s-throughput', `peak ${fmtRate(peak)} tx/s in the last 2 minutes`);
    setText('v-p50', fmtMs(s.latency_p50_ms));
    setText('v-p99', fmtMs(s.latency_p99_ms));
    setText('s-latency', `arrival → score · max ${fmtMs(s.latency_max_ms)} ms`);
    setText('v-alerts', fmtInt(s.alerts));
    setText('s-alerts', `${fmtPct(s.alerts, s.scored)} of scored`);
    setText('v-dead', fmtInt(s.dead_letters));
    setText('s-dead', `watermark lag ${fmtSeconds(s.watermark_lag_seconds)}`);
    view.alertsRaised = finite(s.alerts) ?? 0;
    renderAlertCount();
  }

  // ---- sparklines ---------------------------------------------------------------------------------------------

  function addHistory(s) {
    const point = { t: s.elapsed_seconds, tps: s.throughput_tps, p50: s.latency_p50_ms, p99: s.latency_p99_ms };
    if (finite(point.t) === null) return;
    const last = view.history[view.history.length - 1];
    if (last && point.t < last.t) view.history = [];
    if (last && point.t === last.t) view.history.pop();
    view.history.push(point);
    const from = point.t - HISTORY_SECONDS;
    while (view.history.length && view.history[0].t < from) view.history.shift();
  }

  function svgEl(name, attrs) {
    const el = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  function niceMax(x) {
    if (!(x > 0)) return 1;
    const mag = 10 ** Math.floor(Math.log10(x));
    for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (x <= step * mag) return step * mag;
    return 10 * mag;
  }

  // Draws `series` (keys of the history points) into an SVG of viewBox 600 x 140; returns the y-axis maximum.
  function drawSpark(svg, series, withArea) {
    const W = 600;
    const H = 140;
    const PAD = 6;
    svg.replaceChildren();
    for (const f of [0.25, 0.5, 0.75]) {
      svg.appendChild(svgEl('line', { x1: 0, x2: W, y1: H * f, y2: H * f, class: 'grid-line' }));
    }
    const pts = view.history;
    if (pts.length === 0) return null;
    // Early in a run the chart spans what there is (at least 10 s), so the line does not hug the right edge.
    const tEnd = pts[pts.length - 1].t;
    const span = Math.min(HISTORY_SECONDS, Math.max(10, tEnd - pts[0].t));
    const tStart = tEnd - span;
    let max = 0;
    for (const p of pts) for (const { key } of series) max = Math.max(max, finite(p[key]) ?? 0);
    max = niceMax(max * 1.1);
    const x = (t) => ((t - tStart) / span) * W;
    const y = (v) => H - PAD - (Math.min(v, max) / max) * (H - 2 * PAD);
    for (const { key, cls } of series) {
      const coords = pts.filter((p) => finite(p[key]) !== null).map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`);
      if (coords.length === 0) continue;
      if (coords.length === 1) coords.push(`${W},${coords[0].split(',')[1]}`);
      if (withArea) {
        const first = coords[0].split(',')[0];
        const last = coords[coords.length - 1].split(',')[0];
        svg.appendChild(svgEl('polygon', { points: `${first},${H} ${coords.join(' ')} ${last},${H}`, class: `area-${key}` }));
      }
      svg.appendChild(svgEl('polyline', { points: coords.join(' '), class: `line line-${key}` }));
    }
    return max;
  }

  function renderSparks(s) {
    const tpMax = drawSpark($('spark-throughput'), [{ key: 'tps' }], true);
    setText('tp-max', tpMax === null ? '' : `${fmtRate(tpMax)} tx/s`);
    $('spark-throughput').setAttribute(
      'aria-label',
      `Throughput over the last two minutes; now ${fmtRate(s.throughput_tps)} transactions per second`,
    );
    const latMax = drawSpark($('spark-latency'), [{ key: 'p99' }, { key: 'p50' }], false);
    setText('lat-max', latMax === null ? '' : `${fmtMs(latMax)} ms`);
    $('spark-latency').setAttribute(
      'aria-label',
      `Latency over the last two minutes; now p50 ${fmtMs(s.latency_p50_ms)} ms, p99 ${fmtMs(s.latency_p99_ms)} ms`,
    );
  }

  // ---- histogram ----------------------------------------------------------------------------------------------

  function renderHistogram(s) {
    const svg = $('histogram');
    const W = 600;
    const H = 160;
    const counts = Array.isArray(s.score_histogram) ? s.score_histogram.map((c) => finite(c) ?? 0) : [];
    svg.replaceChildren();
    for (const f of [0.25, 0.5, 0.75]) {
      svg.appendChild(svgEl('line', { x1: 0, x2: W, y1: H * f, y2: H * f, class: 'grid-line' }));
    }
    const threshold = view.info ? finite(view.info.threshold) : null;
    const n = counts.length;
    const total = counts.reduce((a, b) => a + b, 0);
    setText('hist-max', total > 0 ? `${intFmt.format(Math.max(...counts))} in the fullest bucket` : '');
    if (n > 0 && total > 0) {
      // Log scale: almost all scores sit in the first bucket, the interesting ones in the long tail.
      const top = Math.log10(1 + Math.max(...counts));
      const bw = W / n;
      counts.forEach((c, i) => {
        if (c <= 0) return;
        const h = Math.max(2, (Math.log10(1 + c) / top) * (H - 8));
        const lo = i / n;
        const above = threshold !== null && lo >= threshold - 1e-12;
        const rect = svgEl('rect', {
          x: (i * bw + 1).toFixed(1),
          y: (H - h).toFixed(1),
          width: Math.max(1, bw - 2).toFixed(1),
          height: h.toFixed(1),
          class: above ? 'bar-above' : 'bar-below',
        });
        const title = document.createElementNS(SVG_NS, 'title');
        title.textContent = `${lo.toFixed(2)}–${((i + 1) / n).toFixed(2)}: ${intFmt.format(c)} transactions`;
        rect.appendChild(title);
        svg.appendChild(rect);
      });
    }
    if (threshold !== null) {
      const tx = Math.min(1, Math.max(0, threshold)) * W;
      svg.appendChild(svgEl('line', { x1: tx, x2: tx, y1: 0, y2: H, class: 'threshold-line' }));
    }
    const aboveCount = threshold === null ? 0 : counts.reduce((a, c, i) => (i / n >= threshold - 1e-12 ? a + c : a), 0);
    svg.setAttribute(
      'aria-label',
      total > 0
        ? `Score distribution of ${intFmt.format(total)} transactions in ${n} buckets; ${intFmt.format(aboveCount)} at or above the threshold`
        : 'Score distribution: no data yet',
    );
  }

  // ---- quality ------------------------------------------------------------------------------------------------

  function renderQuality(q) {
    if (!q) return;
    setText('q-auc', finite(q.roc_auc) === null ? '—' : q.roc_auc.toFixed(3));
    setText('q-precision', fmtShare(q.precision));
    setText('q-recall', fmtShare(q.recall));
    setText('q-labels', fmtInt(q.labels_received));
    setText(
      'q-window',
      q.window > 0
        ? `rolling window: last ${fmtInt(q.window)} labels · ${fmtInt(q.positives)} fraud, ${fmtInt(q.negatives)} legitimate`
        : 'waiting for labels',
    );
  }

  // ---- champion / challenger quality ------------------------------------------------------------------------

  function roleChip(role) {
    const chip = document.createElement('span');
    chip.className = 'role';
    chip.dataset.role = role === 'challenger' ? 'challenger' : 'champion';
    chip.textContent = chip.dataset.role;
    return chip;
  }

  // With two or more models reporting quality, a table compares them; the best ROC AUC is marked.
  function renderQualityCompare(models) {
    const table = $('quality-compare');
    const tbody = table.tBodies[0];
    if (models.length < 2) {
      table.hidden = true;
      tbody.replaceChildren();
      return;
    }
    table.hidden = false;
    const aucs = models.map((m) => finite(m.quality.roc_auc));
    const best = aucs.reduce((b, a) => (a !== null && (b === null || a > b) ? a : b), null);
    tbody.replaceChildren(
      ...models.map((m, i) => {
        const q = m.quality;
        const tr = document.createElement('tr');
        tr.dataset.model = m.model;
        const name = cell(m.model, 'model');
        name.appendChild(roleChip(m.role));
        tr.appendChild(name);
        const auc = cell(aucs[i] === null ? '—' : aucs[i].toFixed(3), 'num auc');
        if (best !== null && aucs[i] === best && aucs.filter((a) => a !== null).length > 1) auc.classList.add('best');
        tr.appendChild(auc);
        tr.appendChild(cell(fmtShare(q.precision), 'num'));
        tr.appendChild(cell(fmtShare(q.recall), 'num'));
        tr.appendChild(cell(fmtInt(q.labels_received), 'num'));
        return tr;
      }),
    );
  }

  // ---- drift --------------------------------------------------------------------------------------------------

  const TOP_DRIFT = 10;
  const fmtPsi = (x) => (finite(x) === null ? '—' : x.toFixed(3));

  // One bar: name, a track with the fill and the threshold mark, the value. Widths go through the CSSOM (allowed by
  // the page's style-src 'self' policy, unlike style attributes).
  function driftBar(name, psi, alerting, scale, threshold, extraClass) {
    const li = document.createElement('li');
    li.className = extraClass ? `drift-bar ${extraClass}` : 'drift-bar';
    li.dataset.input = name;
    li.dataset.alerting = alerting ? 'true' : 'false';
    const value = finite(psi);
    li.setAttribute(
      'aria-label',
      `${name}: PSI ${fmtPsi(value)}${alerting ? `, above the alert threshold ${fmtPsi(threshold)}` : ''}`,
    );
    const label = document.createElement('span');
    label.className = 'name';
    label.textContent = name;
    label.title = name;
    const track = document.createElement('span');
    track.className = 'track';
    track.setAttribute('aria-hidden', 'true');
    const fill = document.createElement('span');
    fill.className = 'fill';
    fill.style.width = `${value === null ? 0 : Math.min(100, (100 * Math.max(0, value)) / scale)}%`;
    track.appendChild(fill);
    if (threshold !== null) {
      const mark = document.createElement('span');
      mark.className = 'threshold';
      mark.style.left = `${Math.min(100, (100 * threshold) / scale)}%`;
      track.appendChild(mark);
    }
    const v = document.createElement('span');
    v.className = 'psi';
    v.textContent = fmtPsi(value);
    li.append(label, track, v);
    return li;
  }

  function driftModel(m) {
    const d = m.drift;
    const inputs = Array.isArray(d.inputs) ? d.inputs.slice(0, TOP_DRIFT) : [];
    const threshold = finite(d.alert_psi);
    const values = inputs.map((i) => finite(i.psi) ?? 0).concat([finite(d.score_psi) ?? 0]);
    const scale = niceMax(Math.max(...values, (threshold ?? 0.25) * 1.6) * 1.05);
    const alerting = (Array.isArray(d.inputs) ? d.inputs : []).filter((i) => i.alerting).length + (d.score_alerting ? 1 : 0);

    const box = document.createElement('article');
    box.className = 'drift-model';
    box.dataset.model = m.model;
    box.dataset.role = m.role === 'challenger' ? 'challenger' : 'champion';
    const head = document.createElement('div');
    head.className = 'drift-head';
    const h3 = document.createElement('h3');
    h3.textContent = m.model;
    h3.appendChild(roleChip(m.role));
    const badge = document.createElement('span');
    badge.className = 'drift-badge';
    badge.setAttribute('role', 'status');
    if (inputs.length === 0 && finite(d.score_psi) === null) {
      badge.dataset.level = 'collecting';
      badge.textContent = 'no drift figures yet';
    } else if (alerting > 0) {
      badge.dataset.level = 'alert';
      badge.textContent = `${alerting} drifting`;
    } else {
      badge.dataset.level = 'ok';
      badge.textContent = 'stable';
    }
    head.append(h3, badge);
    const meta = document.createElement('p');
    meta.className = 'drift-meta';
    meta.textContent = `baseline: ${d.baseline || '—'} · window ${fmtInt(d.observations)} of ${fmtInt(d.window)} · threshold ${fmtPsi(threshold)}`;
    box.append(head, meta);
    if (inputs.length === 0 && finite(d.score_psi) === null) {
      const empty = document.createElement('p');
      empty.className = 'drift-empty';
      empty.textContent = 'Waiting for a baseline and a window of scored transactions.';
      box.appendChild(empty);
      return box;
    }
    const list = document.createElement('ol');
    list.className = 'drift-bars';
    list.setAttribute('aria-label', `Most drifting inputs of ${m.model}`);
    list.appendChild(driftBar('score', d.score_psi, !!d.score_alerting, scale, threshold, 'drift-score'));
    for (const i of inputs) list.appendChild(driftBar(String(i.name), i.psi, !!i.alerting, scale, threshold, ''));
    box.appendChild(list);
    return box;
  }

  function renderDrift(models) {
    const section = $('drift');
    section.hidden = models.length === 0;
    $('drift-models').replaceChildren(...models.map(driftModel));
  }

  function renderMonitoring(monitoring) {
    const models = monitoring && Array.isArray(monitoring.models) ? monitoring.models.filter((m) => m) : [];
    renderDrift(models.filter((m) => m.drift));
    renderQualityCompare(models.filter((m) => m.quality));
  }

  // ---- alert feed ---------------------------------------------------------------------------------------------

  function cell(text, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }

  function alertRow(a, fresh) {
    const tr = document.createElement('tr');
    tr.dataset.seq = String(a.seq);
    if (fresh) tr.className = 'fresh';
    tr.appendChild(cell(String(a.transaction_id), 'id'));
    const timeCell = document.createElement('td');
    const time = document.createElement('time');
    if (typeof a.event_time === 'string') time.dateTime = a.event_time;
    time.textContent = fmtEventTime(a.event_time);
    timeCell.appendChild(time);
    tr.appendChild(timeCell);
    tr.appendChild(cell(finite(a.amount) === null ? '—' : usdFmt.format(a.amount), 'num'));
    tr.appendChild(cell(a.product || '—'));
    tr.appendChild(cell(a.card_type || '—'));
    const scoreCell = cell('', 'num');
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = finite(a.score) === null ? '—' : a.score.toFixed(3);
    scoreCell.appendChild(score);
    tr.appendChild(scoreCell);
    const driversCell = document.createElement('td');
    const chips = document.createElement('div');
    chips.className = 'chips';
    const drivers = Array.isArray(a.drivers) ? a.drivers.slice(0, TOP_DRIVERS) : [];
    for (const d of drivers) {
      const chip = document.createElement('span');
      chip.className = 'chip';
      const effect = finite(d.effect);
      chip.title = `${d.feature} = ${d.value}: ${effect === null ? '?' : (effect >= 0 ? '+' : '') + effect.toFixed(3)} log-odds (exact Shapley contribution to the score's margin)`;
      const f = document.createElement('span');
      f.className = 'feature';
      f.textContent = d.feature;
      const v = document.createElement('span');
      v.className = 'value';
      v.textContent = d.value;
      const e = document.createElement('span');
      e.className = effect !== null && effect < 0 ? 'effect-down' : 'effect-up';
      e.textContent = effect === null ? '' : `${effect >= 0 ? '▲ +' : '▼ '}${effect.toFixed(2)}`;
      chip.append(f, v, e);
      chips.appendChild(chip);
    }
    if (drivers.length === 0) chips.textContent = '—';
    driversCell.appendChild(chips);
    tr.appendChild(driversCell);
    return tr;
  }

  function renderAlertCount() {
    const shown = view.alertsShown;
    setText(
      'alerts-count',
      shown === 0 ? 'none yet' : `newest ${intFmt.format(shown)} of ${intFmt.format(Math.max(shown, view.alertsRaised))} raised`,
    );
    $('alerts-empty').hidden = shown > 0;
  }

  function resetAlerts(alerts) {
    const tbody = $('alerts').tBodies[0];
    const rows = (Array.isArray(alerts) ? alerts : []).slice(0, MAX_ROWS).map((a) => alertRow(a, false));
    tbody.replaceChildren(...rows);
    view.lastSeq = alerts && alerts.length ? Math.max(...alerts.map((a) => a.seq || 0)) : 0;
    view.alertsShown = rows.length;
    renderAlertCount();
  }

  function addAlert(a) {
    if (!a || !(a.seq > view.lastSeq)) return; // already shown (e.g. in the init backlog)
    view.lastSeq = a.seq;
    const tbody = $('alerts').tBodies[0];
    tbody.insertBefore(alertRow(a, true), tbody.firstChild);
    while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(tbody.rows.length - 1);
    view.alertsShown = tbody.rows.length;
    renderAlertCount();
  }

  // ---- events -------------------------------------------------------------------------------------------------

  function renderSnapshot(msg) {
    renderState(msg.state, msg.message);
    // Before the first update the server's snapshot is all zeros, which would read as a stalled job.
    const s = msg.state === 'waiting' ? {} : msg.snapshot || {};
    renderTiles(s);
    renderSparks(s);
    renderHistogram(s);
    renderQuality(s.quality);
    renderMonitoring(msg.monitoring);
  }

  function onInit(msg) {
    if (msg.info) renderInfo(msg.info);
    // The server's history already ends with the current snapshot.
    view.history = Array.isArray(msg.history) ? msg.history.filter((p) => finite(p.t) !== null) : [];
    renderSnapshot(msg);
    resetAlerts(msg.alerts);
  }

  function onSnapshot(msg) {
    if (msg.snapshot) addHistory(msg.snapshot);
    renderSnapshot(msg);
  }

  // Parses and applies one event; a malformed event is reported but does not stop the page.
  function handler(apply) {
    return (e) => {
      view.lastEventAt = Date.now();
      let data;
      try {
        data = JSON.parse(e.data);
      } catch (err) {
        console.warn('dashboard: ignoring malformed event', e.type, err);
        return;
      }
      apply(data);
    };
  }

  function connect() {
    if (view.retryTimer !== null) {
      clearTimeout(view.retryTimer);
      view.retryTimer = null;
    }
    if (view.source) view.source.close();
    setConnection('connecting', view.retries === 0 ? 'Connecting…' : 'Reconnecting…');
    const source = new EventSource('events');
    view.source = source;
    view.lastEventAt = Date.now();
    source.addEventListener('init', handler((msg) => {
      view.retries = 0;
      setConnection('live', 'Live');
      onInit(msg);
    }));
    source.addEventListener('snapshot', handler(onSnapshot));
    source.addEventListener('alert', handler(addAlert));
    source.addEventListener('ping', handler(() => {}));
    source.onerror = () => {
      if (view.source !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        scheduleReconnect();
      } else {
        // The browser retries by itself after the server's `retry` delay.
        setConnection('lost', 'Connection lost, reconnecting…');
      }
    };
  }

  function scheduleReconnect() {
    if (view.retryTimer !== null) return;
    if (view.source) view.source.close();
    view.source = null;
    const delay = RETRY_MS[Math.min(view.retries, RETRY_MS.length - 1)];
    view.retries += 1;
    setConnection('lost', `Disconnected, retrying in ${Math.round(delay / 1000)} s…`);
    view.retryTimer = setTimeout(connect, delay);
  }

  // A stream that went silent (proxy, sleep, half-open TCP) never reports an error: replace it.
  setInterval(() => {
    if (view.source && Date.now() - view.lastEventAt > STALE_AFTER_MS) scheduleReconnect();
  }, 2000);

  connect();
})();
