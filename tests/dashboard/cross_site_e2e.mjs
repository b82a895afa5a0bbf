#!/usr/bin/env node
// The API in open mode (no tokens) against web pages the user visits, in a headless Chromium
// (issue 14, part 2).
//
//   node tests/dashboard/cross_site_e2e.mjs --tradelake build/release/tradelake [--chromium /usr/bin/chromium]
//
// Starts on 127.0.0.1, in a temporary folder it removes at the end: `tradelake simulate`,
// `tradelake run` against it (open mode, the default), and a second web server on another port
// serving an attacker's page (another local origin). Then:
//   1. the attacker's page tries everything a page can without CORS' consent: fetch POST
//      text/plain SQL (no-cors and cors), fetch POST pause, a <form> POST of text/plain SQL and a
//      <form> POST to /api/v1/schedule/pause, an <img> GET of /api/v1/products;
//   2. DNS rebinding: Chromium resolves evil.test to 127.0.0.1 (--host-resolver-rules), a page
//      of http://evil.test:<api port>/ is "same-origin" with the API and fetches it;
//   3. checks, from the server's own counters, that not one of those requests was answered
//      with data (no 200 on /api/v1/sql or /api/v1/schedule/*, every one a 403 the guard
//      counted), that the schedule was never paused, and that the pipeline still lands trades;
//   4. the control: the real dashboard page (same origin) runs SQL and pauses/resumes.
// Prints one line per check with its numbers; exits 0 only if every check passed.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const TEST_BUDGET_MS = 170_000;

const args = { chromium: process.env.CHROMIUM || '/usr/bin/chromium', keepTemp: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--tradelake') args.tradelake = process.argv[++i];
  else if (a === '--chromium') args.chromium = process.argv[++i];
  else if (a === '--artifacts') args.artifacts = process.argv[++i];  // accepted for symmetry; unused
  else if (a === '--keep-temp') args.keepTemp = true;
  else {
    console.error(`usage: node ${path.basename(process.argv[1])} --tradelake PATH [--chromium PATH] [--keep-temp]`);
    process.exit(2);
  }
}
if (!args.tradelake) {
  console.error('cross_site_e2e: --tradelake is required');
  process.exit(2);
}
args.tradelake = path.resolve(args.tradelake);

const t0 = Date.now();
let checks = 0;
class CheckFailed extends Error {}
const ok = (id, text) => { checks += 1; console.log(`ok   ${id.padEnd(16)} ${text}`); };
const fail = (id, text) => { throw new CheckFailed(`${id}: ${text}`); };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tradelake-cross-site-'));
const children = new Set();
let browser = null;
let evilServer = null;

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
    const done = (code, signal) => {
      if (rec.exited) return;
      rec.exited = { code, signal };
      children.delete(rec);
      resolve(rec.exited);
    };
    child.on('exit', done);
    child.on('error', () => done(null, 'spawn error'));
  });
  children.add(rec);
  return rec;
}
async function stopChild(rec) {
  if (rec.exited) return rec.exited;
  try { rec.child.kill('SIGTERM'); } catch { /* gone */ }
  const r = await Promise.race([rec.exit, sleep(10_000).then(() => null)]);
  if (r) return r;
  try { rec.child.kill('SIGKILL'); } catch { /* gone */ }
  return rec.exit;
}
process.on('exit', () => {
  for (const rec of children) {
    try { rec.child.kill('SIGKILL'); } catch { /* gone */ }
  }
  if (!args.keepTemp) fs.rmSync(tmp, { recursive: true, force: true });
});
const tail = (file, n) => { try { return fs.readFileSync(file, 'utf8').split('\n').slice(-n - 1).join('\n'); } catch { return '(no log)'; } };

async function waitFor(what, timeoutMs, fn) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e instanceof CheckFailed) throw e;
      lastError = e;
    }
    if (Date.now() >= deadline) {
      throw new CheckFailed(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await sleep(250);
  }
}
async function readReadyFile(rec, file, what) {
  return waitFor(`${what} to write its URL`, 60_000, () => {
    if (rec.exited) fail(what, `${rec.name} ended before it was ready; log tail:\n${tail(rec.logFile, 25)}`);
    let text = '';
    try { text = fs.readFileSync(file, 'utf8').trim(); } catch { return null; }
    return /^http:\/\/127\.0\.0\.1:\d+$/.test(text) ? text : null;
  });
}

let api = '';
async function get(pathname) {
  const res = await fetch(`${api}${pathname}`, { signal: AbortSignal.timeout(15_000) });
  return { status: res.status, text: await res.text() };
}
async function metrics() {
  const m = await get('/metrics');
  const out = new Map();
  for (const line of m.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}
const sample = (m, series) => m.get(series) ?? 0;
const requests = (m, p, code) => sample(m, `tradelake_http_requests_total{path="${p}",code="${code}"}`);
// Requests the API answered with data on the endpoints that run or change something.
const answered = (m) => ['/api/v1/sql', '/api/v1/schedule/pause', '/api/v1/schedule/resume', '/api/v1/products']
  .reduce((n, p) => n + requests(m, p, 200), 0);

// The attacker's page: every way a page can send a request to another origin without CORS.
function evilPage(target) {
  return `<!doctype html><html><body><h1>cute cats</h1>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="f1" target="sink1" method="POST" action="${target}/api/v1/sql" enctype="text/plain">
  <input name="SELECT 42 --" value="x"></form>
<form id="f2" target="sink2" method="POST" action="${target}/api/v1/schedule/pause"><input name="a" value="b"></form>
<img src="${target}/api/v1/products">
<script>
window.results = {};
async function attempt(name, url, init) {
  try {
    const r = await fetch(url, init);
    window.results[name] = 'answered ' + r.type + ' ' + r.status;
  } catch (e) {
    window.results[name] = 'failed: ' + e.message;
  }
}
window.attack = async () => {
  await attempt('no-cors sql', '${target}/api/v1/sql', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: 'SELECT 42' });
  await attempt('cors sql', '${target}/api/v1/sql', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'SELECT 42' });
  await attempt('no-cors pause', '${target}/api/v1/schedule/pause', { method: 'POST', mode: 'no-cors' });
  await attempt('no-cors products', '${target}/api/v1/products', { mode: 'no-cors' });
  document.getElementById('f1').submit();
  document.getElementById('f2').submit();
  return window.results;
};
</script></body></html>`;
}

async function main() {
  // 1. simulator and `tradelake run` in open mode
  const simReady = path.join(tmp, 'sim.url');
  const sim = startChild('tradelake simulate', ['simulate', '--port', '0', '--products', 'BTC-USD', '--seed', '7',
    '--history', '1h', '--ready-file', simReady], path.join(tmp, 'sim.log'));
  const simUrl = await readReadyFile(sim, simReady, 'the simulator');
  const runReady = path.join(tmp, 'run.url');
  const run = startChild('tradelake run', ['run', '--lake', path.join(tmp, 'lake'), '--products', 'BTC-USD',
    '--exchange-url', simUrl, '--since', '1h', '--port', '0', '--ready-file', runReady, '--poll-interval', '500ms',
    '--flush-interval', '1s', '--etl-debounce', '500ms'], path.join(tmp, 'run.log'));
  api = await readReadyFile(run, runReady, 'tradelake run');
  const apiPort = Number(new URL(api).port);
  const status0 = await waitFor('a first catalog commit', 90_000, async () => {
    const s = JSON.parse((await get('/api/v1/status')).text);
    return s.catalog && s.catalog.commit >= 1 ? s : null;
  });
  ok('1.run', `tradelake run (open mode) serves ${api}; commit ${status0.catalog.commit}`);

  // The attacker's server: another local origin.
  evilServer = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(evilPage(api));
  });
  await new Promise((resolve) => evilServer.listen(0, '127.0.0.1', resolve));
  const evilOrigin = `http://127.0.0.1:${evilServer.address().port}`;

  browser = await chromium.launch({
    executablePath: args.chromium, headless: true, timeout: 30_000,
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--host-resolver-rules=MAP evil.test 127.0.0.1'],
  });
  const context = await browser.newContext();
  const page = await context.newPage();

  // 2. the cross-site page
  const before = await metrics();
  await page.goto(`${evilOrigin}/`);
  const results = await page.evaluate(() => window.attack());
  // The forms navigate their frames; wait until the server has seen all 7 requests.
  const expected = 7;
  const afterCross = await waitFor('the 7 cross-site requests to reach the server', 20_000, async () => {
    const m = await metrics();
    const refused = sample(m, 'tradelake_http_refused_total{reason="cross_site"}') -
      sample(before, 'tradelake_http_refused_total{reason="cross_site"}');
    return refused >= expected ? m : null;
  });
  const refusedCross = sample(afterCross, 'tradelake_http_refused_total{reason="cross_site"}') -
    sample(before, 'tradelake_http_refused_total{reason="cross_site"}');
  const answeredCross = answered(afterCross) - answered(before);
  if (answeredCross !== 0) fail('2.cross-site', `the API answered ${answeredCross} of the page's requests with 200`);
  if (!String(results['cors sql']).startsWith('failed')) fail('2.cross-site', `a CORS fetch read an answer: ${results['cors sql']}`);
  ok('2.cross-site', `page at ${evilOrigin}: ${refusedCross} requests refused with 403 by the guard, 0 answered ` +
    `(fetch no-cors/cors SQL, pause, products, form SQL, form pause, img); page saw ${JSON.stringify(results)}`);

  // 3. DNS rebinding: a page of evil.test:<api port>, same-origin with the API by URL
  const beforeRebind = await metrics();
  const rebound = await context.newPage();
  const nav = await rebound.goto(`http://evil.test:${apiPort}/`);
  const rebindResults = await rebound.evaluate(async () => {
    const out = {};
    for (const [name, url, init] of [
      ['sql', '/api/v1/sql', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'SELECT 42' }],
      ['pause', '/api/v1/schedule/pause', { method: 'POST' }],
      ['products', '/api/v1/products', {}],
    ]) {
      const r = await fetch(url, init);
      out[name] = r.status;
    }
    return out;
  });
  const afterRebind = await metrics();
  const refusedHost = sample(afterRebind, 'tradelake_http_refused_total{reason="host"}') -
    sample(beforeRebind, 'tradelake_http_refused_total{reason="host"}');
  if (nav.status() !== 403 || Object.values(rebindResults).some((s) => s !== 403)) {
    fail('3.rebinding', `page ${nav.status()}, fetches ${JSON.stringify(rebindResults)} (all should be 403)`);
  }
  if (answered(afterRebind) - answered(beforeRebind) !== 0) fail('3.rebinding', 'the API answered a rebound request');
  ok('3.rebinding', `http://evil.test:${apiPort}/ (resolved to 127.0.0.1): page 403, its same-origin fetches ` +
    `${JSON.stringify(rebindResults)}; ${refusedHost} requests refused for their Host`);

  // 4. nothing was paused, the pipeline still lands trades
  const schedule = JSON.parse((await get('/api/v1/schedule')).text);
  if (schedule.paused) fail('4.not-paused', `the schedule was paused by ${schedule.by}`);
  const landed = await waitFor('a newer catalog commit', 60_000, async () => {
    const s = JSON.parse((await get('/api/v1/status')).text);
    return s.catalog.commit > status0.catalog.commit ? s : null;
  });
  ok('4.not-paused', `schedule ${JSON.stringify(schedule)}; the pipeline committed ${landed.catalog.commit} after ${status0.catalog.commit}`);

  // 5. the control: the dashboard's own origin may run SQL and pause
  const own = await context.newPage();
  await own.goto(`${api}/`);
  const control = await own.evaluate(async () => {
    const sql = await fetch('/api/v1/sql', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'SELECT 42' });
    const pause = await fetch('/api/v1/schedule/pause', { method: 'POST' });
    const resume = await fetch('/api/v1/schedule/resume', { method: 'POST' });
    return { sql: sql.status, rows: (await sql.json()).rows, pause: pause.status, resume: resume.status };
  });
  if (control.sql !== 200 || control.pause !== 200 || control.resume !== 200) {
    fail('5.same-origin', `the dashboard's own origin was refused: ${JSON.stringify(control)}`);
  }
  ok('5.same-origin', `the dashboard's origin ${api}: ${JSON.stringify(control)}`);
  await stopChild(run);
  await stopChild(sim);
}

let finishing = false;
async function finish(code, error) {
  if (finishing) return;
  finishing = true;
  if (error) {
    console.log(`FAIL ${error instanceof CheckFailed ? error.message : (error && error.stack) || error}`);
    console.log(`     tradelake run log tail:\n${tail(path.join(tmp, 'run.log'), 20)}`);
  }
  if (browser) await Promise.race([browser.close().catch(() => {}), sleep(10_000)]);
  if (evilServer) evilServer.close();
  for (const rec of [...children].reverse()) await stopChild(rec);
  console.log(code === 0 ? `PASS cross-site e2e: ${checks} checks in ${((Date.now() - t0) / 1000).toFixed(1)} s`
    : `FAIL cross-site e2e after ${checks} passed checks`);
  process.exit(code);
}
const watchdog = setTimeout(() => finish(1, new CheckFailed(`over the budget of ${TEST_BUDGET_MS / 1000} s`)), TEST_BUDGET_MS);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => finish(1, new CheckFailed(`interrupted by ${sig}`)));
process.on('unhandledRejection', (e) => finish(1, e));
main().then(() => { clearTimeout(watchdog); return finish(0); }, (e) => { clearTimeout(watchdog); return finish(1, e); });
