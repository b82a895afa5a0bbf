#!/usr/bin/env node
// End-to-end test of the live dashboard (web/dashboard/), in a headless Chromium.
//
//   node tests/dashboard/dashboard_e2e.mjs --tradelake build/release/tradelake --artifacts DIR
//        [--chromium /usr/bin/chromium] [--keep-temp]
//
// Starts everything itself on 127.0.0.1, in a temporary folder it removes at the end:
//   1. `tradelake simulate` (seed 7, 3 h of history, BTC-USD and ETH-USD);
//   2. `tradelake run` against it (backfill 3 h, then follow; serves the API and the page),
//      waiting for a catalog commit holding both products;
//   3. opens the page and checks that the chart shows exactly the candles Gold holds for the
//      range the page asked for (counted independently with POST /api/v1/sql);
//   4. switches product and interval (1m, 1h, 1d, 1m) and checks each against SQL, and that
//      a zoomed view survives a live refresh;
//   5. reads the newest trade from the simulator and waits until the page's 1-minute candle
//      of that minute contains it;
//   6. checks the health panel (BTC-USD fresh, pipeline running) and Pause/Resume;
//   7. runs a query in the SQL box (rows, bytes scanned) and an invalid one (the API's error);
//   8. saves ARTIFACTS/dashboard.png (dashboard-failure.png, run.log and sim.log on failure),
//      checks that `tradelake run` stops on SIGTERM with exit 0, that the page logged no
//      errors (exceptions, CSP violations) and that the API answered all its requests;
//   9. the live tail: a second simulator with its WebSocket feed (--ws-port) and `tradelake run
//      --ws-url` on a fresh lake; the page draws the provisional candles distinctly (translucent
//      colours, Gold's candles without) and, once a commit holds the next minute, draws that
//      minute as Gold's. The simulator's clock is set so that its minute ends ~12 s after it
//      starts, which keeps this step near 15 s.
// Prints one line per check with its figures; exits 0 only if every check passed. Every wait
// has a deadline, and the whole test is bounded (TEST_BUDGET_MS); children are killed on
// every exit path.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const TEST_BUDGET_MS = 170_000;      // the whole test, cleanup included, stays under 3 minutes
const PRODUCTS = ['BTC-USD', 'ETH-USD'];
const TABLES = { '1m': 'gold.bars_1m', '1h': 'gold.trades_hourly', '1d': 'gold.trades_daily' };
const LIVE_DEADLINE_MS = 20_000;     // flush 1 s + poll 0.5 s + ETL debounce 0.5 s + ETL + page poll 2 s + margin

// ---------------------------------------------------------------------- arguments
function usage(message) {
  if (message) console.error(`dashboard_e2e: ${message}`);
  console.error('usage: node tests/dashboard/dashboard_e2e.mjs --tradelake PATH --artifacts DIR [--chromium PATH] [--keep-temp]');
  process.exit(2);
}
const args = { chromium: process.env.CHROMIUM || '/usr/bin/chromium', keepTemp: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const value = () => {
    if (i + 1 >= process.argv.length) usage(`${a} needs a value`);
    return process.argv[++i];
  };
  if (a === '--tradelake') args.tradelake = value();
  else if (a === '--artifacts') args.artifacts = value();
  else if (a === '--chromium') args.chromium = value();
  else if (a === '--keep-temp') args.keepTemp = true;
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown argument ${a}`);
}
if (!args.tradelake) usage('--tradelake is required');
if (!args.artifacts) usage('--artifacts is required');
args.tradelake = path.resolve(args.tradelake);
args.artifacts = path.resolve(args.artifacts);
for (const [what, file] of [['--tradelake', args.tradelake], ['--chromium', args.chromium]]) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    usage(`${what} ${file} is not an executable file`);
  }
}
fs.mkdirSync(args.artifacts, { recursive: true });
for (const f of ['dashboard.png', 'dashboard-failure.png', 'run.log', 'sim.log']) {
  fs.rmSync(path.join(args.artifacts, f), { force: true });
}

// ---------------------------------------------------------------------- bookkeeping
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const secondsSince = (t) => ((Date.now() - t) / 1000).toFixed(1);
let checks = 0;
function ok(id, text) {
  checks += 1;
  console.log(`ok   ${id.padEnd(14)} ${text}`);
}
class CheckFailed extends Error {}
function fail(id, text) {
  throw new CheckFailed(`${id}: ${text}`);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tradelake-dashboard-'));
const children = new Set();
let browser = null;
let page = null;
const pageProblems = [];   // uncaught exceptions and console errors of the page
const apiFailures = [];    // API answers >= 400 the page received, with their bodies
let expectSqlError = false;

// Starts the binary with `argv`, output appended to `logFile`.
function startChild(name, argv, logFile) {
  const fd = fs.openSync(logFile, 'a');
  let child;
  try {
    child = spawn(args.tradelake, argv, { stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  const rec = { name, child, logFile, exited: null };
  rec.exit = new Promise((resolve) => {
    const done = (code, signal, error) => {
      if (rec.exited) return;
      rec.exited = { code, signal, error };
      children.delete(rec);
      resolve(rec.exited);
    };
    child.on('exit', (code, signal) => done(code, signal, null));
    child.on('error', (e) => done(null, null, e));
  });
  children.add(rec);
  return rec;
}
function describeExit(x) {
  if (!x) return 'still running';
  if (x.error) return `could not start: ${x.error.message}`;
  return x.signal ? `killed by ${x.signal}` : `exit code ${x.code}`;
}
// SIGTERM, then SIGKILL after graceMs; resolves to how it ended.
async function stopChild(rec, graceMs) {
  if (rec.exited) return rec.exited;
  try { rec.child.kill('SIGTERM'); } catch { /* gone */ }
  const timedOut = Symbol('timeout');
  const r = await Promise.race([rec.exit, sleep(graceMs).then(() => timedOut)]);
  if (r !== timedOut) return r;
  try { rec.child.kill('SIGKILL'); } catch { /* gone */ }
  await Promise.race([rec.exit, sleep(5000)]);
  return { ...(rec.exited || {}), forced: true };
}
function tail(file, lines) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

// Last resort on any exit: no child outlives the test, no temp folder stays behind.
process.on('exit', () => {
  for (const rec of children) {
    try { rec.child.kill('SIGKILL'); } catch { /* gone */ }
  }
  if (!args.keepTemp) fs.rmSync(tmp, { recursive: true, force: true });
});

// Polls fn until it returns a truthy value; the failure names what was awaited and
// what fn last saw (describe()) or threw.
async function waitFor(what, timeoutMs, fn, opts = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      lastError = null;
    } catch (e) {
      if (e instanceof CheckFailed) throw e;
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const seen = opts.describe ? `; last seen: ${opts.describe()}` : '';
      const err = lastError ? `; last error: ${lastError.message}` : '';
      throw new CheckFailed(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}${seen}${err}`);
    }
    await sleep(opts.intervalMs || 250);
  }
}

async function httpJson(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, json, headers: res.headers };
}
async function getJson(url) {
  const r = await httpJson('GET', url);
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}: ${r.json.error ?? JSON.stringify(r.json)}`);
  return r.json;
}

async function readReadyFile(rec, file, what, timeoutMs) {
  return waitFor(`${what} to write its URL to ${path.basename(file)}`, timeoutMs, () => {
    if (rec.exited) {
      fail(what, `${rec.name} ended (${describeExit(rec.exited)}) before it was ready; log tail:\n${tail(rec.logFile, 25)}`);
    }
    let text = '';
    try { text = fs.readFileSync(file, 'utf8').trim(); } catch { return null; }
    return /^http:\/\/127\.0\.0\.1:\d+$/.test(text) ? text : null;
  });
}

// "2026-11-27T13:08:12.039806Z" -> "TIMESTAMP '2026-11-27 13:08:12.039806'"
function tsLiteral(rfc3339) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d(?:\.\d+)?)Z$/.exec(rfc3339);
  if (!m) throw new CheckFailed(`not an RFC 3339 UTC time: ${rfc3339}`);
  return `TIMESTAMP '${m[1]} ${m[2]}'`;
}
const isoOfSeconds = (s) => (s === null || s === undefined ? 'none' : new Date(s * 1000).toISOString().replace('.000Z', 'Z'));

// ---------------------------------------------------------------------- the test
let api = '';        // the server of `tradelake run`
let simUrl = '';
let runRec = null;
let simRec = null;

async function sql(statement) {
  const r = await httpJson('POST', `${api}/api/v1/sql`, { sql: statement });
  if (r.status !== 200) throw new Error(`POST /api/v1/sql: HTTP ${r.status}: ${r.json.error}\n  ${statement}`);
  return r.json;
}

// What the page shows, read in one go.
function pageState() {
  return page.evaluate(() => {
    const d = window.tradelakeDashboard;
    if (!d) return null;
    const c = d.candles();
    return {
      product: d.product(), interval: d.interval(), range: d.range(), commit: d.commit(),
      lastRefresh: d.lastRefresh(), loading: d.loading(), ready: d.ready(), n: c.length,
      first: c.length ? c[0].time : null, last: c.length ? c[c.length - 1].time : null,
      domCount: document.querySelector('[data-testid=candle-count]')?.textContent ?? null,
    };
  });
}

// The chart's candles for product/interval against Gold, counted with SQL over the same
// [from, to). A commit landing between the page's fetch and the SQL can add the bar of the
// minute the page fetched in; then the page reloads (new commit) and it is compared again.
async function checkCandles(id, product, interval) {
  const table = TABLES[interval];
  const start = Date.now();
  let attempts = 0;
  let last = null;
  const deadline = 30_000;
  const result = await waitFor(`the ${product} ${interval} chart to match ${table}`, deadline, async () => {
    const s = await pageState();
    if (!s || !s.ready || s.loading || s.product !== product || s.interval !== interval || !s.range) {
      last = { page: s };
      return null;
    }
    attempts += 1;
    const q = await sql(
      `SELECT count(*) AS n, CAST(epoch(min(period_start)) AS BIGINT) AS first, CAST(epoch(max(period_start)) AS BIGINT) AS last ` +
      `FROM ${table} WHERE product_id = '${product}' AND period_start >= ${tsLiteral(s.range.from)} AND period_start < ${tsLiteral(s.range.to)}`);
    const [n, first, lastTime] = q.rows[0];
    // The server's snapshot only moves forward: if it still serves the commit the page had seen
    // before fetching its bars, the page's bars and the count come from the same commit.
    const after = await getJson(`${api}/api/v1/status`);
    const s2 = await pageState();
    if (s2.lastRefresh !== s.lastRefresh) return null;  // the page reloaded meanwhile: compare again
    last = { page: s, sql: { n, first, last: lastTime }, serverCommitAfterSql: after.catalog.commit };
    if (n === s.n && first === s.first && lastTime === s.last) {
      if (String(s.n) !== s.domCount) fail(id, `candle-count shows ${s.domCount}, the series holds ${s.n}`);
      return { s, n, first, lastTime };
    }
    if (after.catalog.commit === s.commit) {
      fail(id, `at commit ${s.commit} the chart shows ${s.n} ${product} ${interval} candles ` +
        `(${isoOfSeconds(s.first)} .. ${isoOfSeconds(s.last)}) but ${table} holds ${n} (${isoOfSeconds(first)} .. ${isoOfSeconds(lastTime)}) ` +
        `in [${s.range.from}, ${s.range.to})`);
    }
    return null;
  }, {
    intervalMs: 400,
    describe: () => JSON.stringify(last),
  });
  const { s, n } = result;
  if (n === 0) fail(id, `${table} holds no ${product} bars in [${s.range.from}, ${s.range.to}): nothing to show`);
  ok(id, `${product} ${interval}: chart shows ${s.n} candles = ${n} rows of ${table} in [${s.range.from}, ${s.range.to}), ` +
    `${isoOfSeconds(s.first)} .. ${isoOfSeconds(s.last)} (page commit ${s.commit}` +
    `${attempts > 1 ? `, matched on attempt ${attempts}` : ''}, ${secondsSince(start)} s)`);
  return s;
}

async function selectProduct(product) {
  await page.selectOption('[data-testid=product-select]', product);
}
async function clickInterval(interval) {
  await page.click(`[data-testid=interval-${interval}]`);
}

// Zooms the chart with the mouse wheel, waits for a reload from a newer commit and checks
// that the visible time range stayed where the user put it.
async function checkZoomKept(id) {
  const box = await page.locator('[data-testid=chart]').boundingBox();
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.35);
  for (let i = 0; i < 4; i++) {
    await page.mouse.wheel(0, -240);
    await sleep(100);
  }
  await page.mouse.move(box.x + box.width + 50, box.y - 20);  // away from the chart: no hover legend
  await sleep(300);
  const before = await page.evaluate(() => ({
    r: window.tradelakeDashboard.visibleTimeRange(), refresh: window.tradelakeDashboard.lastRefresh(),
    commit: window.tradelakeDashboard.commit(), n: window.tradelakeDashboard.candles().length,
    last: window.tradelakeDashboard.candles().at(-1)?.time,
  }));
  if (!before.r || before.r.to >= before.last) {
    fail(id, `wheel zoom did not leave the newest bar out of view (visible ${JSON.stringify(before.r)}, newest ${before.last})`);
  }
  const after = await waitFor('a reload of the chart from a newer commit', 20_000, () => page.evaluate((b) => {
    const d = window.tradelakeDashboard;
    if (d.loading() || d.lastRefresh() === b.refresh || d.commit() === b.commit) return null;
    return { r: d.visibleTimeRange(), commit: d.commit(), n: d.candles().length };
  }, before));
  if (after.r.from !== before.r.from || after.r.to !== before.r.to) {
    fail(id, `the zoom moved on reload: visible ${isoOfSeconds(before.r.from)} .. ${isoOfSeconds(before.r.to)} at commit ${before.commit}, ` +
      `${isoOfSeconds(after.r.from)} .. ${isoOfSeconds(after.r.to)} at commit ${after.commit}`);
  }
  ok(id, `zoomed view ${isoOfSeconds(before.r.from)} .. ${isoOfSeconds(before.r.to)} kept across the reload ` +
    `from commit ${before.commit} (${before.n} candles) to ${after.commit} (${after.n} candles)`);
}

async function main() {
  // 1. the exchange simulator
  let t = Date.now();
  const simReady = path.join(tmp, 'sim.url');
  simRec = startChild('tradelake simulate', ['simulate', '--port', '0', '--products', PRODUCTS.join(','), '--seed', '7',
    '--history', '3h', '--ready-file', simReady], path.join(tmp, 'sim.log'));
  simUrl = await readReadyFile(simRec, simReady, 'the simulator', 20_000);
  ok('1.simulator', `tradelake simulate serves ${PRODUCTS.join(', ')} at ${simUrl} (seed 7, 3 h of history), ready in ${secondsSince(t)} s`);

  // 2. the pipeline: ingest + ETL + API + page
  t = Date.now();
  const runReady = path.join(tmp, 'run.url');
  runRec = startChild('tradelake run', ['run', '--lake', path.join(tmp, 'lake'), '--products', PRODUCTS.join(','),
    '--exchange-url', simUrl, '--since', '3h', '--port', '0', '--ready-file', runReady, '--poll-interval', '500ms',
    '--flush-interval', '1s', '--etl-debounce', '500ms'], path.join(tmp, 'run.log'));
  api = await readReadyFile(runRec, runReady, 'tradelake run', 60_000);
  const servingAfter = secondsSince(t);
  let lastStatus = null;
  const status = await waitFor('a catalog commit >= 1 holding both products in /api/v1/status', 90_000, async () => {
    if (runRec.exited) fail('2.run', `tradelake run ended (${describeExit(runRec.exited)}); log tail:\n${tail(runRec.logFile, 25)}`);
    const s = await getJson(`${api}/api/v1/status`);
    lastStatus = s;
    const have = new Set((s.products || []).filter((p) => p.last_trade_time).map((p) => p.product));
    return s.catalog && s.catalog.commit >= 1 && PRODUCTS.every((p) => have.has(p)) ? s : null;
  }, { intervalMs: 500, describe: () => JSON.stringify(lastStatus && { catalog: lastStatus.catalog, products: lastStatus.products, pipeline: lastStatus.pipeline && lastStatus.pipeline.state }) });
  if (!status.pipeline || typeof status.pipeline !== 'object') {
    fail('2.run', `/api/v1/status of tradelake run has no pipeline object: ${JSON.stringify(status.pipeline)}`);
  }
  ok('2.run', `tradelake run serves ${api} after ${servingAfter} s; commit ${status.catalog.commit} holds ` +
    status.products.map((p) => `${p.product} (${p.silver_rows} rows, newest ${p.last_trade_time})`).join(', ') +
    ` after ${secondsSince(t)} s; pipeline ${status.pipeline.state}, ingest ${status.pipeline.ingest?.state}, ETL runs ${status.pipeline.etl?.runs}`);

  // 3. the page
  t = Date.now();
  browser = await chromium.launch({
    executablePath: args.chromium, headless: true, timeout: 30_000,
    // This script's handlers close the browser, after the failure screenshot.
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const launched = secondsSince(t);
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageProblems.push(`uncaught exception: ${e.message}`));
  page.on('response', async (r) => {
    const u = new URL(r.url());
    if (r.status() < 400 || !u.pathname.startsWith('/api/')) return;
    // The invalid statement of step 7 answers 400 on purpose.
    if (expectSqlError && u.pathname === '/api/v1/sql' && r.status() === 400) return;
    let body = '';
    try { body = (await r.text()).slice(0, 300); } catch { /* page gone */ }
    apiFailures.push(`${new Date().toISOString()} ${r.request().method()} ${u.pathname}${u.search} -> ${r.status()} ${body}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = m.location()?.url || '';
    // Chromium logs every API answer >= 400; those are checked (with their bodies) by 8.api-answers.
    if (/^Failed to load resource: the server responded with a status of \d+/.test(m.text()) && new URL(where || 'x:/').pathname.startsWith('/api/')) return;
    pageProblems.push(`console error: ${m.text()}${where ? ` (${where})` : ''}`);
  });
  const response = await page.goto(`${api}/`, { waitUntil: 'load', timeout: 20_000 });
  if (!response || response.status() !== 200) fail('3.page', `GET ${api}/ answered ${response && response.status()}`);
  const csp = response.headers()['content-security-policy'] || '';
  if (!csp) fail('3.page', `GET ${api}/ has no Content-Security-Policy header`);
  const scriptSrc = (/script-src([^;]*)/.exec(csp) || /default-src([^;]*)/.exec(csp) || [, ''])[1];
  if (/unsafe-inline|unsafe-eval|\*|https?:/.test(scriptSrc) || !/'self'/.test(scriptSrc)) {
    fail('3.page', `the Content-Security-Policy does not restrict scripts to 'self': ${csp}`);
  }
  await waitFor('the page to show its first candles (tradelakeDashboard.ready())', 20_000, () => page.evaluate(
    () => !!(window.tradelakeDashboard && window.tradelakeDashboard.ready() && window.tradelakeDashboard.candles().length > 0)));
  ok('3.page', `${api}/ showed its first candles ${secondsSince(t)} s after launching Chromium (${browser.version()}, ${launched} s to start); CSP: ${csp}`);
  const first = await pageState();
  if (first.product !== 'BTC-USD' || first.interval !== '1m') {
    fail('3.page', `the page starts on ${first.product} ${first.interval}, expected BTC-USD 1m (the first product, 1-minute bars)`);
  }
  await checkCandles('3.candles', 'BTC-USD', '1m');

  // 4. product and interval switches, and the zoom kept across live reloads
  await selectProduct('ETH-USD');
  await checkCandles('4.eth-1m', 'ETH-USD', '1m');
  await checkZoomKept('4.zoom-kept');
  await clickInterval('1h');
  await checkCandles('4.eth-1h', 'ETH-USD', '1h');
  await clickInterval('1d');
  await checkCandles('4.eth-1d', 'ETH-USD', '1d');
  await clickInterval('1m');
  await checkCandles('4.eth-1m-again', 'ETH-USD', '1m');
  await selectProduct('BTC-USD');
  await checkCandles('4.btc-1m', 'BTC-USD', '1m');

  // 5. a live trade reaches the chart
  t = Date.now();
  const trades = await getJson(`${simUrl}/products/BTC-USD/trades?limit=1`);
  if (!Array.isArray(trades) || trades.length !== 1) fail('5.live', `the simulator answered ${JSON.stringify(trades).slice(0, 200)}`);
  const trade = trades[0];
  const tradeMs = Date.parse(trade.time);
  const minute = Math.floor(tradeMs / 60_000) * 60;
  const price = Number(trade.price);
  if (!Number.isFinite(tradeMs) || !Number.isFinite(price)) fail('5.live', `unreadable trade ${JSON.stringify(trade)}`);
  const liveDeadline = t + LIVE_DEADLINE_MS;
  const left = () => Math.max(0, liveDeadline - Date.now());
  const inSilver = await waitFor(`trade ${trade.trade_id} in silver.trades`, left(), async () => {
    const q = await sql(`SELECT count(*) FROM silver.trades WHERE product_id = 'BTC-USD' AND trade_id = ${Number(trade.trade_id)} ` +
      `AND trade_time >= ${tsLiteral(isoOfSeconds(minute))} AND trade_time < ${tsLiteral(isoOfSeconds(minute + 60))}`);
    if (q.rows[0][0] !== 1) return null;
    const s = await getJson(`${api}/api/v1/status`);   // read after the SQL: a commit that holds the trade
    return { commit: s.catalog.commit, at: Date.now() };
  }, { intervalMs: 300 });
  let seen = null;
  const shown = await waitFor(`the chart to load commit >= ${inSilver.commit} (which holds trade ${trade.trade_id})`, left(), async () => {
    seen = await page.evaluate((m) => {
      const d = window.tradelakeDashboard;
      return { commit: d.commit(), loading: d.loading(), product: d.product(), interval: d.interval(),
        candle: d.candles().find((c) => c.time === m) || null, newest: d.candles().at(-1)?.time ?? null };
    }, minute);
    return seen.commit !== null && seen.commit >= inSilver.commit && !seen.loading && seen.product === 'BTC-USD' && seen.interval === '1m'
      ? { ...seen, at: Date.now() } : null;
  }, { intervalMs: 200, describe: () => JSON.stringify(seen) });
  const c = shown.candle;
  if (!c) fail('5.live', `the page loaded commit ${shown.commit} but has no candle at ${isoOfSeconds(minute)} for trade ${JSON.stringify(trade)} (newest candle ${isoOfSeconds(shown.newest)})`);
  if (!(c.low <= price && price <= c.high)) {
    fail('5.live', `the ${isoOfSeconds(minute)} candle (O ${c.open} H ${c.high} L ${c.low} C ${c.close}) does not contain trade ${trade.trade_id} at ${trade.price}`);
  }
  if (shown.newest < minute) fail('5.live', `the newest candle ${isoOfSeconds(shown.newest)} is older than the trade's minute`);
  ok('5.live', `simulator trade ${trade.trade_id} (${trade.time}, price ${trade.price}) was in Silver after ${((inSilver.at - t) / 1000).toFixed(1)} s ` +
    `(commit ${inSilver.commit}) and on the chart after ${((shown.at - t) / 1000).toFixed(1)} s (page commit ${shown.commit}): ` +
    `${isoOfSeconds(minute)} candle L ${c.low} <= ${price} <= H ${c.high}; limit ${LIVE_DEADLINE_MS / 1000} s`);
  const lastUpdate = await page.textContent('[data-testid=last-update]');
  if (!/\d\d:\d\d:\d\d/.test(lastUpdate || '')) fail('5.last-update', `the "last update" time shows ${JSON.stringify(lastUpdate)}`);
  ok('5.last-update', `"last update" shows ${lastUpdate.trim()}`);

  // 6. health panel and Pause/Resume
  t = Date.now();
  const health = page.locator('[data-testid=health-BTC-USD]');
  await waitFor('health-BTC-USD to show fresh', 10_000, async () => (await health.getAttribute('data-freshness')) === 'fresh');
  const healthText = (await health.innerText()).replace(/\s+/g, ' ').trim();
  const ethFreshness = await page.locator('[data-testid=health-ETH-USD]').getAttribute('data-freshness');
  ok('6.health', `health-BTC-USD: "${healthText}" (freshness ${await health.getAttribute('data-freshness-seconds')} s); ETH-USD ${ethFreshness}`);
  // The run reconciles the backfilled minutes with the simulator's candles: all match.
  const candles = page.locator('[data-testid=candles-BTC-USD]');
  await waitFor('candles-BTC-USD to show 100%', 60_000, async () => ((await candles.textContent()) || '').trim() === '100%',
    { describe: () => 'see the health panel' });
  ok('6.candles', `candles-BTC-USD: "${(await candles.textContent()).trim()}" (${await candles.getAttribute('title')})`);

  const stateLocator = page.locator('[data-testid=pipeline-state]');
  const toggle = page.locator('[data-testid=pipeline-toggle]');
  const pipelineState = async () => (await stateLocator.textContent() || '').trim();
  await waitFor('pipeline-state to show running', 10_000, async () => (await pipelineState()) === 'running',
    { describe: () => 'see the page' });
  ok('6.running', `pipeline-state shows "running"; button "${(await toggle.textContent()).trim()}"`);

  t = Date.now();
  await toggle.click();
  await waitFor('pipeline-state to show paused after clicking Pause', 10_000, async () => (await pipelineState()) === 'paused');
  const shownPausedAfter = secondsSince(t);
  const paused = await getJson(`${api}/api/v1/schedule`);
  if (paused.paused !== true) fail('6.pause', `the page shows paused but GET /api/v1/schedule answers ${JSON.stringify(paused)}`);
  ok('6.pause', `clicked Pause: pipeline-state "paused" after ${shownPausedAfter} s; GET /api/v1/schedule ${JSON.stringify(paused)}`);

  t = Date.now();
  await waitFor('the button to offer Resume', 5_000, async () => /resume/i.test((await toggle.textContent()) || ''));
  await toggle.click();
  await waitFor('pipeline-state to show running after clicking Resume', 10_000, async () => (await pipelineState()) === 'running');
  const shownRunningAfter = secondsSince(t);
  const resumed = await getJson(`${api}/api/v1/schedule`);
  if (resumed.paused !== false) fail('6.resume', `the page shows running but GET /api/v1/schedule answers ${JSON.stringify(resumed)}`);
  ok('6.resume', `clicked Resume: pipeline-state "running" after ${shownRunningAfter} s; GET /api/v1/schedule ${JSON.stringify(resumed)}`);

  // 7. the SQL box
  t = Date.now();
  const statement = 'SELECT product_id, count(*) AS trades, min(trade_time) AS first_trade, max(trade_time) AS last_trade\n' +
    'FROM silver.trades GROUP BY product_id ORDER BY product_id';
  await page.fill('[data-testid=sql-input]', statement);
  await page.click('[data-testid=sql-run]');
  const table = page.locator('[data-testid=sql-result] table[data-testid=sql-table]');
  await waitFor('the SQL result table', 15_000, async () => {
    if (await page.locator('[data-testid=sql-error]').isVisible()) {
      fail('7.sql', `the SQL box shows an error: ${await page.textContent('[data-testid=sql-error]')}`);
    }
    return (await table.count()) === 1 && (await table.getAttribute('data-rows')) === '2';
  });
  const cells = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  const headers = await table.locator('thead th').evaluateAll((ths) => ths.map((th) => th.firstChild.textContent));
  if (cells.map((r) => r[0]).join(',') !== PRODUCTS.join(',')) fail('7.sql', `result rows ${JSON.stringify(cells)}`);
  if (headers.join(',') !== 'product_id,trades,first_trade,last_trade') fail('7.sql', `result columns ${JSON.stringify(headers)}`);
  const scan = page.locator('[data-testid=sql-scan]');
  const bytesRead = Number(await scan.getAttribute('data-bytes-read'));
  const filesRead = Number(await scan.getAttribute('data-files-read'));
  const scanText = (await scan.innerText()).trim();
  if (!(bytesRead > 0) || !(filesRead >= 1) || !scanText.includes(bytesRead.toLocaleString('en-US'))) {
    fail('7.sql', `the scan line does not show the bytes read: "${scanText}" (bytes_read ${bytesRead}, files_read ${filesRead})`);
  }
  ok('7.sql', `SQL box: ${cells.length} rows ${cells.map((r) => `${r[0]}=${r[1]}`).join(', ')} in ${secondsSince(t)} s; scan: "${scanText}"`);

  const bad = 'SELECT no_such_column FROM gold.bars_1m';
  const direct = await httpJson('POST', `${api}/api/v1/sql`, { sql: bad });
  if (direct.status !== 400 || !direct.json.error) fail('7.sql-error', `the API answered ${direct.status} ${JSON.stringify(direct.json)} to ${bad}`);
  expectSqlError = true;
  await page.fill('[data-testid=sql-input]', bad);
  await page.click('[data-testid=sql-run]');
  const errorBox = page.locator('[data-testid=sql-error]');
  await waitFor('the SQL error message', 10_000, () => errorBox.isVisible());
  expectSqlError = false;
  const errorText = (await errorBox.textContent()).trim();
  if (!errorText.includes(direct.json.error)) fail('7.sql-error', `the page shows "${errorText}", the API said "${direct.json.error}"`);
  ok('7.sql-error', `an invalid statement shows the API's message: "${errorText.split('\n')[0].slice(0, 100)}"`);
  // Leave a result on screen for the screenshot.
  await page.fill('[data-testid=sql-input]', statement);
  await page.click('[data-testid=sql-run]');
  await waitFor('the SQL result table again', 15_000, async () => (await table.count()) === 1);

  // 8. screenshot, page errors, clean stop
  const shot = path.join(args.artifacts, 'dashboard.png');
  await page.mouse.move(1, 1);
  await page.screenshot({ path: shot, fullPage: true, timeout: 20_000 });
  ok('8.screenshot', `${shot} (${fs.statSync(shot).size.toLocaleString('en-US')} bytes)`);
  await page.close();   // before the run stops: its streams would fail (step 9 opens another)
  page = null;

  t = Date.now();
  const runExit = await stopChild(runRec, 30_000);
  if (runExit.forced || runExit.code !== 0) {
    fail('8.run-stop', `tradelake run did not stop on SIGTERM with exit 0: ${describeExit(runExit)}${runExit.forced ? ' (SIGKILLed after 30 s)' : ''}; log tail:\n${tail(runRec.logFile, 25)}`);
  }
  ok('8.run-stop', `tradelake run stopped on SIGTERM with exit 0 in ${secondsSince(t)} s`);

  // What the page saw during the whole test.
  if (pageProblems.length) fail('8.page-errors', `the page logged ${pageProblems.length} problem(s):\n  ${pageProblems.join('\n  ')}`);
  ok('8.page-errors', 'no uncaught exceptions, no console errors, no CSP violations');
  if (apiFailures.length) {
    const vanished = apiFailures.some((f) => / -> 404 .*object .* not found in /.test(f));
    fail('8.api-answers', `the API failed ${apiFailures.length} of the page's requests` +
      (vanished ? ' (404 "object ... not found": the server read a catalog snapshot whose files the ETL had already deleted)' : '') +
      `:\n  ${apiFailures.join('\n  ')}`);
  }
  ok('8.api-answers', 'every API request of the page was answered without error (but the deliberate SQL error)');

  await checkProvisionalCandles();
}

// 9. provisional candles from the live tail, drawn distinctly, then replaced by Gold's.
async function checkProvisionalCandles() {
  const t = Date.now();
  const product = 'BTC-USD';
  // The simulator's clock runs from --now: 48 s into a minute, behind the wall clock (so the
  // page's default range, which ends now, holds its bars).
  const lagMs = (((Date.now() % 60_000) - 48_000) % 60_000 + 60_000) % 60_000;
  const simNow = new Date(Math.floor((Date.now() - lagMs) / 1000) * 1000).toISOString();
  const simReady = path.join(tmp, 'sim-live.url');
  const simLog = path.join(tmp, 'sim-live.log');
  const sim = startChild('tradelake simulate (live)', ['simulate', '--port', '0', '--products', product, '--seed', '9',
    '--history', '12m', '--now', simNow, '--ws-port', '0', '--ready-file', simReady], simLog);
  const liveSimUrl = await readReadyFile(sim, simReady, 'the live simulator', 20_000);
  const wsUrl = (/WebSocket feed \(matches, heartbeat\) at (ws:\/\/127\.0\.0\.1:\d+)/.exec(fs.readFileSync(simLog, 'utf8')) || [])[1];
  if (!wsUrl) fail('9.live-setup', `the simulator did not print its WebSocket feed's URL; log tail:\n${tail(simLog, 10)}`);
  const runReady = path.join(tmp, 'run-live.url');
  const run = startChild('tradelake run (live)', ['run', '--lake', path.join(tmp, 'lake-live'), '--products', product,
    '--exchange-url', liveSimUrl, '--ws-url', wsUrl, '--since', '10m', '--port', '0', '--ready-file', runReady,
    '--poll-interval', '500ms', '--flush-interval', '1s', '--etl-debounce', '500ms', '--no-reconcile'],
    path.join(tmp, 'run-live.log'));
  const liveApi = await readReadyFile(run, runReady, 'tradelake run (live)', 30_000);
  await waitFor('a first commit with the live tail on (/api/v1/status "live")', 20_000, async () => {
    if (run.exited) fail('9.live-setup', `tradelake run ended (${describeExit(run.exited)}); log tail:\n${tail(run.logFile, 25)}`);
    const s = await getJson(`${liveApi}/api/v1/status`);
    return s.live === true && s.catalog && s.catalog.commit >= 1 && (s.products || []).some((p) => p.product === product);
  }, { intervalMs: 250 });
  const context = browser.contexts()[0];
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageProblems.push(`uncaught exception (live page): ${e.message}`));
  const response = await page.goto(`${liveApi}/`, { waitUntil: 'load', timeout: 20_000 });
  if (!response || response.status() !== 200) fail('9.live-page', `GET ${liveApi}/ answered ${response && response.status()}`);
  // The page's own data: which bars are provisional, and how each candle is coloured.
  const shown = () => page.evaluate(() => {
    const d = window.tradelakeDashboard;
    if (!d || !d.ready() || d.loading()) return null;
    const bars = d.bars() || [];
    const candles = d.candles();
    return { commit: d.commit(), live: d.live(), events: d.liveEvents(), bars: bars.map((b) => ({ time: Math.floor(Date.parse(b.time) / 1000), provisional: !!b.provisional })),
      colors: candles.map((c) => ({ time: c.time, color: c.color || null })) };
  });
  let last = null;
  const first = await waitFor('provisional candles on the page', 20_000, async () => {
    last = await shown();
    return last && last.bars.some((b) => b.provisional) ? last : null;
  }, { intervalMs: 200, describe: () => JSON.stringify(last && { commit: last.commit, live: last.live, events: last.events, tail: last.bars.slice(-3) }) });
  const colorOf = new Map(first.colors.map((c) => [c.time, c.color]));
  const provisional = first.bars.filter((b) => b.provisional);
  const gold = first.bars.filter((b) => !b.provisional);
  for (const b of provisional) {
    const c = colorOf.get(b.time);
    if (!c || !/^rgba\(.*,\s*0?\.\d+\)$/.test(c)) fail('9.provisional', `the provisional candle at ${isoOfSeconds(b.time)} is not drawn translucent (color ${c})`);
  }
  const coloured = gold.filter((b) => colorOf.get(b.time));
  if (coloured.length) fail('9.provisional', `${coloured.length} Gold candles are drawn as provisional ones, first ${isoOfSeconds(coloured[0].time)}`);
  if (gold.length === 0 || provisional.some((b) => b.time < gold.at(-1).time)) {
    fail('9.provisional', `the provisional candles are not the newest: ${JSON.stringify(first.bars.slice(-4))}`);
  }
  const minute = provisional[0].time;
  ok('9.provisional', `${provisional.length} provisional candle(s) from ${isoOfSeconds(minute)} drawn translucent ` +
    `(${colorOf.get(minute)}), ${gold.length} Gold candles without a colour of their own, page commit ${first.commit}, ` +
    `stream ${first.live} (${first.events} updates), ${secondsSince(t)} s after the live simulator started`);
  const replaced = await waitFor(`the ${isoOfSeconds(minute)} candle to be Gold's after a commit`, 75_000, async () => {
    last = await shown();
    if (!last || last.commit === null || last.commit <= first.commit) return null;
    const b = last.bars.find((x) => x.time === minute);
    return b && !b.provisional && !last.colors.find((c) => c.time === minute).color ? last : null;
  }, { intervalMs: 200, describe: () => JSON.stringify(last && { commit: last.commit, tail: last.bars.slice(-3) }) });
  const q = await httpJson('POST', `${liveApi}/api/v1/sql`, { sql:
    `SELECT count(*) FROM gold.bars_1m WHERE product_id = '${product}' AND period_start = ${tsLiteral(isoOfSeconds(minute))}` });
  if (q.status !== 200 || q.json.rows[0][0] !== 1) fail('9.replaced', `gold.bars_1m does not hold ${isoOfSeconds(minute)}: ${JSON.stringify(q.json)}`);
  ok('9.replaced', `after commit ${replaced.commit} the ${isoOfSeconds(minute)} candle is Gold's (not provisional, default colours; ` +
    `in gold.bars_1m); newest provisional now ${isoOfSeconds(replaced.bars.filter((b) => b.provisional).at(-1)?.time)}; ${secondsSince(t)} s for step 9`);
  await page.close();
  page = null;
  await browser.close();
  browser = null;
  for (const rec of [run, sim]) {
    const how = await stopChild(rec, 20_000);
    if (how.forced || how.code !== 0) fail('9.live-stop', `${rec.name} did not stop on SIGTERM with exit 0: ${describeExit(how)}`);
  }
  if (pageProblems.length) fail('9.page-errors', `the live page logged ${pageProblems.length} problem(s):\n  ${pageProblems.join('\n  ')}`);
}

// ---------------------------------------------------------------------- run it, bounded
let finishing = false;
async function finish(code, error) {
  if (finishing) return;
  finishing = true;
  const hard = setTimeout(() => {
    console.error('dashboard_e2e: cleanup took over 30 s; killing everything');
    process.exit(code || 1);
  }, 30_000);
  hard.unref();
  if (error) {
    const message = error instanceof CheckFailed ? error.message : (error && error.stack) || String(error);
    console.log(`FAIL ${message}`);
    if (page) {
      const shot = path.join(args.artifacts, 'dashboard-failure.png');
      try {
        await page.screenshot({ path: shot, fullPage: true, timeout: 10_000 });
        console.log(`     screenshot of the failure: ${shot}`);
      } catch (e) {
        console.log(`     no failure screenshot: ${e.message}`);
      }
    }
    const logged = error instanceof CheckFailed && /^8\.(page-errors|api-answers)/.test(error.message);
    if (pageProblems.length && !logged) console.log(`     the page logged:\n       ${pageProblems.slice(0, 20).join('\n       ')}`);
    if (apiFailures.length && !logged) console.log(`     API answers >= 400 the page received:\n       ${apiFailures.slice(0, 20).join('\n       ')}`);
  }
  if (browser) {
    await Promise.race([browser.close().catch(() => {}), sleep(10_000)]);
  }
  for (const rec of [...children].reverse()) {   // tradelake run before its exchange
    const how = await stopChild(rec, 10_000);
    if (error) console.log(`     ${rec.name}: ${describeExit(how)}`);
  }
  if (error) {
    for (const [name, lines] of [['run.log', 400], ['sim.log', 100]]) {
      const from = path.join(tmp, name);
      if (fs.existsSync(from)) {
        fs.writeFileSync(path.join(args.artifacts, name), tail(from, lines));
      }
    }
    if (fs.existsSync(path.join(tmp, 'run.log'))) {
      console.log(`     tradelake run log tail (all of it in ${path.join(args.artifacts, 'run.log')}):\n${tail(path.join(tmp, 'run.log'), 20).replace(/^/gm, '       ')}`);
    }
  }
  if (!args.keepTemp) fs.rmSync(tmp, { recursive: true, force: true });
  else console.log(`     kept ${tmp}`);
  console.log(code === 0
    ? `PASS dashboard e2e: ${checks} checks in ${elapsed()}`
    : `FAIL dashboard e2e after ${checks} passed checks, in ${elapsed()}`);
  clearTimeout(hard);
  process.exit(code);
}

const watchdog = setTimeout(() => {
  finish(1, new CheckFailed(`whole test: over its budget of ${TEST_BUDGET_MS / 1000} s`));
}, TEST_BUDGET_MS - 30_000);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => finish(1, new CheckFailed(`interrupted by ${sig}`)));
}
process.on('unhandledRejection', (e) => finish(1, e));
process.on('uncaughtException', (e) => finish(1, e));

main().then(() => {
  clearTimeout(watchdog);
  return finish(0);
}, (e) => {
  clearTimeout(watchdog);
  return finish(1, e);
});
