#!/usr/bin/env node
// Checks a live fraudstream dashboard in headless Chromium, as a person watching it would, and saves a screenshot.
//
// Usage:
//   node tests/browser/dashboard-check.mjs URL OUT_DIR [--seconds N] [--min-alerts N] [--static] [--expect-drift N]
//
//   URL           the dashboard page, e.g. http://127.0.0.1:8090/ (the URL `fraudstream demo` prints)
//   OUT_DIR       created if missing; receives dashboard.png (full page) and dashboard-check.json (the results)
//   --seconds N   how long to wait for the numbers to change and for alerts to appear (default 10)
//   --min-alerts N  alert rows required in the live feed (default 1; 0 accepts an empty feed)
//   --static      do not require the numbers to change (a run that has already finished)
//   --expect-drift N  require the drift panel to show N models with bars (default 0: the panel is optional);
//                 what it shows (per model: badge, score PSI, inputs with PSI and alert state) and the champion /
//                 challenger quality table go into the JSON results either way
//
// Environment: CHROMIUM (default /usr/bin/chromium, Debian's package). Needs `npm ci` in tests/browser first
// (scripts/setup.sh does it).
//
// Passes (exit 0) when the page connects to the event stream, the tiles show numbers, those numbers change while
// watched, the feed has the required alert rows, the charts are drawn, and the page logged no console error, threw
// no exception and had no failed request. Exit 1 lists what failed; exit 2 means bad usage or no browser.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

function usage(message) {
  console.error(`dashboard-check: ${message}`);
  console.error(
    'usage: node tests/browser/dashboard-check.mjs URL OUT_DIR [--seconds N] [--min-alerts N] [--static] [--expect-drift N]',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { seconds: 10, minAlerts: 1, requireChange: true, expectDrift: 0 };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const number = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) usage(`${a} needs a non-negative number`);
      return v;
    };
    if (a === '--seconds') opts.seconds = number();
    else if (a === '--min-alerts') opts.minAlerts = number();
    else if (a === '--static') opts.requireChange = false;
    else if (a === '--expect-drift') opts.expectDrift = number();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 2) usage('expected URL and OUT_DIR');
  [opts.url, opts.outDir] = positional;
  try {
    new URL(opts.url);
  } catch {
    usage(`not a URL: ${opts.url}`);
  }
  opts.outDir = resolve(opts.outDir);
  return opts;
}

// The numbers a person reads off the tiles; the page fills these ids (crates/dashboard/assets/index.html).
const TILE_IDS = ['v-scored', 'v-throughput', 'v-p50', 'v-p99', 'v-alerts', 'v-dead', 'elapsed'];

async function readTiles(page) {
  return page.evaluate((ids) => Object.fromEntries(ids.map((id) => [id, document.getElementById(id)?.textContent?.trim() ?? null])), TILE_IDS);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  mkdirSync(opts.outDir, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'fraudstream-chromium-'));
  const started = Date.now();
  const failures = [];
  const problems = []; // console errors, page errors, failed requests
  const result = { url: opts.url, ok: false, failures, problems };

  let context;
  try {
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        viewport: { width: 1440, height: 900 },
        deviceScaleFactor: 1,
        // Without the background-networking flags Chromium tries to reach Google services, which a closed network
        // refuses; none of these change how the page renders.
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    } catch (err) {
      console.error(`dashboard-check: cannot start Chromium at ${executablePath}: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => {
      // The event stream is aborted when the page closes; that is not a failure of the page.
      const aborted = req.failure()?.errorText === 'net::ERR_ABORTED' && req.url().endsWith('/events');
      if (!aborted) problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
    });

    const response = await page.goto(opts.url, { waitUntil: 'domcontentloaded', timeout: 15000 });
    if (!response || !response.ok()) failures.push(`page load: HTTP ${response ? response.status() : 'no response'}`);

    const deadline = started + 15000 + opts.seconds * 1000;
    const remaining = () => Math.max(1000, deadline - Date.now());

    // Connected and showing numbers.
    try {
      await page.waitForSelector('#connection[data-conn="live"]', { timeout: remaining() });
    } catch {
      failures.push('the page never connected to the event stream');
    }
    try {
      await page.waitForFunction(() => /\d/.test(document.getElementById('v-scored')?.textContent ?? ''), null, { timeout: remaining() });
    } catch {
      failures.push('the tiles never showed numbers');
    }
    result.tilesFirst = await readTiles(page);

    // The numbers move while the job runs.
    const watchUntil = Date.now() + opts.seconds * 1000;
    let changed = [];
    while (Date.now() < watchUntil) {
      await page.waitForTimeout(500);
      const now = await readTiles(page);
      changed = TILE_IDS.filter((id) => now[id] !== result.tilesFirst[id]);
      result.tilesLast = now;
      if (changed.includes('v-scored') && changed.length >= 2) break;
    }
    result.tilesChanged = changed;
    if (opts.requireChange && !changed.includes('v-scored')) {
      failures.push(`the numbers did not change in ${opts.seconds} s (${JSON.stringify(result.tilesFirst)})`);
    }

    // The alert feed.
    if (opts.minAlerts > 0) {
      try {
        await page.waitForFunction(
          (n) => document.querySelectorAll('#alerts tbody tr').length >= n,
          opts.minAlerts,
          { timeout: Math.max(1000, watchUntil - Date.now() + 2000) },
        );
      } catch {
        failures.push(`fewer than ${opts.minAlerts} alert rows in the feed`);
      }
    }
    result.alertRows = await page.locator('#alerts tbody tr').count();
    result.firstAlert = result.alertRows > 0 ? (await page.locator('#alerts tbody tr').first().innerText()).replace(/\s+/g, ' ') : null;

    // The charts are drawn.
    result.charts = await page.evaluate(() => ({
      throughputLines: document.querySelectorAll('#spark-throughput polyline').length,
      latencyLines: document.querySelectorAll('#spark-latency polyline').length,
      histogramBars: document.querySelectorAll('#histogram rect').length,
      thresholdMarked: document.querySelectorAll('#histogram .threshold-line').length === 1,
    }));
    if (result.charts.throughputLines < 1) failures.push('no throughput sparkline');
    if (result.charts.latencyLines < 2) failures.push('no p50/p99 latency sparklines');
    if (result.charts.histogramBars < 1) failures.push('no score histogram bars');
    if (!result.charts.thresholdMarked) failures.push('threshold not marked on the histogram');
    result.runState = await page.locator('#run-state').innerText();

    // The drift panel and the champion / challenger comparison, as a person reads them.
    if (opts.expectDrift > 0) {
      try {
        await page.waitForFunction(
          (n) => document.querySelectorAll('#drift:not([hidden]) .drift-model .drift-bar').length > 0
            && document.querySelectorAll('#drift .drift-model').length >= n,
          opts.expectDrift,
          { timeout: remaining() },
        );
      } catch {
        failures.push(`the drift panel never showed ${opts.expectDrift} model(s) with bars`);
      }
    }
    result.drift = await page.evaluate(() => ({
      visible: !document.getElementById('drift')?.hidden,
      models: [...document.querySelectorAll('#drift .drift-model')].map((m) => {
        const read = (b) => ({
          name: b.dataset.input,
          psi: b.querySelector('.psi')?.textContent?.trim() ?? null,
          alerting: b.dataset.alerting === 'true',
          thresholdMarked: b.querySelectorAll('.threshold').length === 1,
          fillPercent: parseFloat(b.querySelector('.fill')?.style.width ?? 'NaN'),
        });
        const score = m.querySelector('.drift-bar.drift-score');
        const badge = m.querySelector('.drift-badge');
        return {
          model: m.dataset.model,
          role: m.dataset.role,
          badge: badge?.textContent?.trim() ?? null,
          badgeLevel: badge?.dataset.level ?? null,
          score: score ? read(score) : null,
          inputs: [...m.querySelectorAll('.drift-bar:not(.drift-score)')].map(read),
        };
      }),
      qualityCompare: document.getElementById('quality-compare')?.hidden
        ? []
        : [...document.querySelectorAll('#quality-compare tbody tr')].map((tr) => ({
            model: tr.dataset.model,
            auc: tr.querySelector('.auc')?.textContent?.trim() ?? null,
            best: tr.querySelector('.auc')?.classList.contains('best') ?? false,
          })),
    }));
    if (opts.expectDrift > 0) {
      for (const m of result.drift.models) {
        if (m.inputs.length === 0) failures.push(`drift panel of ${m.model}: no input bars`);
        if (m.inputs.some((b) => !b.thresholdMarked)) failures.push(`drift panel of ${m.model}: threshold not marked`);
        if (m.inputs.some((b) => !(b.fillPercent >= 0 && b.fillPercent <= 100))) {
          failures.push(`drift panel of ${m.model}: a bar without a width`);
        }
      }
    }

    result.screenshot = join(opts.outDir, 'dashboard.png');
    await page.screenshot({ path: result.screenshot, fullPage: true });
  } catch (err) {
    failures.push(`check aborted: ${err.message}`);
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }

  if (problems.length > 0) failures.push(`${problems.length} console/page/network problem(s)`);
  result.ok = failures.length === 0;
  result.seconds = (Date.now() - started) / 1000;
  writeFileSync(join(opts.outDir, 'dashboard-check.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
  if (process.exitCode === undefined) process.exitCode = result.ok ? 0 : 1;
}

main().catch((err) => {
  console.error(`dashboard-check: ${err.stack ?? err}`);
  process.exitCode = 2;
});
