// tradelake live dashboard.
//
// Plain script, no build step, no other libraries: TradingView's lightweight-charts
// (global LightweightCharts, v5, served at /assets/lightweight-charts.js) draws the chart.
// Everything comes from the lake's HTTP API on this origin (src/serve/api_server.h):
//   GET  /api/v1/products                 product selector
//   GET  /api/v1/bars?product=&interval=  candles + volume (API default range per interval)
//   GET  /api/v1/reconciliation?product=  1m bars that differ from the exchange's candles (markers)
//   GET  /api/v1/live?product=            Server-Sent Events (`tradelake run`'s live tail): the
//                                         provisional 1m bars after Gold's newest minute, pushed
//                                         as they change (drawn translucent), and each new commit;
//                                         read with fetch so that the token header goes along

//   GET  /api/v1/status                   polled every 2 s: freshness, quality, catalog commit,
//                                         and the pipeline of `tradelake run` (null for `serve`)
//   POST /api/v1/schedule/pause|resume    the Pause/Resume button
//   POST /api/v1/sql                      the SQL box
// A new catalog commit (a new ETL run) reloads the bars, keeping the user's zoom.
// Calls carry "Authorization: Bearer <token>" when a token is stored (localStorage);
// a 401 opens the token field.
//
// For tests and tooling, window.tradelakeDashboard exposes read-only accessors
// (candles(), product(), interval(), range(), commit(), lastRefresh(), ...).
'use strict';

(function () {
  const POLL_MS = 2000;
  const FRESH_SECONDS = 60;
  const SQL_DISPLAY_ROWS = 1000;
  const TOKEN_KEY = 'tradelake.token';
  const SQL_KEY = 'tradelake.sql';
  const INTERVALS = ['1m', '1h', '1d'];
  const INTERVAL_TABLE = { '1m': 'gold.bars_1m', '1h': 'gold.trades_hourly', '1d': 'gold.trades_daily' };
  const UP = '#26a69a';
  const DOWN = '#ef5350';
  const UP_VOL = 'rgba(38, 166, 154, 0.5)';
  const DOWN_VOL = 'rgba(239, 83, 80, 0.5)';
  // Provisional candles (the live tail, not yet in Gold): the same hues, translucent.
  const UP_LIVE = 'rgba(38, 166, 154, 0.35)';
  const DOWN_LIVE = 'rgba(239, 83, 80, 0.35)';
  const LIVE_RETRY_MS = 5000;

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ state
  const state = {
    products: [],          // [{product, first_date, last_date}]
    product: null,
    interval: '1m',
    bars: [],              // raw API bars (decimal strings), oldest first
    candles: [],           // what is set on the candlestick series
    volumes: [],           // what is set on the histogram series
    barsByTime: new Map(), // candle time (s) -> raw bar
    range: null,           // {from, to} of the bars shown, as the API answered (RFC 3339)
    shown: null,           // "product|interval" the chart currently shows
    dataCommit: null,      // catalog commit seen by the status poll before the shown bars were fetched
    commit: null,          // newest catalog commit seen by the status poll
    lastRefresh: null,     // Date of the last successful bars load
    status: null,          // last /api/v1/status answer
    statusAt: null,        // Date of that answer
    loading: false,
    ready: false,
    needToken: false,
    barsError: null,
  };

  // ------------------------------------------------------------------ formatting
  function pad(n, w) { return String(n).padStart(w || 2, '0'); }
  // "2026-11-27 13:08:12" (UTC) from a Date, ms or an RFC 3339 string.
  function fmtUtc(t, withSeconds) {
    const d = t instanceof Date ? t : new Date(t);
    if (Number.isNaN(d.getTime())) return String(t);
    const s = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    return withSeconds === false ? s : `${s}:${pad(d.getUTCSeconds())}`;
  }
  function fmtClock(t) {
    const d = t instanceof Date ? t : new Date(t);
    if (Number.isNaN(d.getTime())) return String(t);
    return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  }
  function fmtAge(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
    const s = Math.max(0, seconds);
    if (s < 10) return `${s.toFixed(1)}s`;
    if (s < 90) return `${Math.round(s)}s`;
    if (s < 5400) return `${Math.floor(s / 60)}m ${pad(Math.floor(s % 60))}s`;
    if (s < 2 * 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }
  function fmtInt(n) {
    if (n === null || n === undefined) return '—';
    if (typeof n === 'string') return n.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return Number(n).toLocaleString('en-US');
  }
  // Binary units, as the CLI prints them ("5.5 KiB of 9.8 MiB").
  function fmtBytes(n) {
    const v = Number(n);
    if (!Number.isFinite(v)) return String(n);
    if (v < 1024) return `${v} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let x = v / 1024;
    let i = 0;
    while (x >= 1024 && i < units.length - 1) { x /= 1024; i += 1; }
    return `${x.toFixed(1)} ${units[i]}`;
  }
  function fmtSeconds(s) {
    const v = Number(s);
    if (!Number.isFinite(v)) return '—';
    return v < 10 ? `${v.toFixed(3)} s` : `${v.toFixed(1)} s`;
  }
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'text') e.textContent = v;
        else if (k === 'className') e.className = v;
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of [].concat(children || [])) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // ------------------------------------------------------------------ API
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  function storedToken() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function storeToken(token) {
    try {
      if (token) localStorage.setItem(TOKEN_KEY, token);
      else localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage unavailable: the token lives until the page is closed */ }
    sessionToken = token;
  }
  let sessionToken = storedToken();

  // Integers beyond 2^53 (BIGINT, HUGEINT sums) keep their exact digits as strings.
  function reviveExact(key, value, context) {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && context &&
        typeof context.source === 'string' && /^-?\d+$/.test(context.source)) {
      return context.source;
    }
    return value;
  }

  async function api(path, options) {
    const opts = options || {};
    const headers = { Accept: 'application/json' };
    if (opts.json !== undefined) headers['Content-Type'] = 'application/json';
    if (sessionToken) headers.Authorization = `Bearer ${sessionToken}`;
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), opts.timeoutMs || 20000);
    let res;
    let text;
    try {
      res = await fetch(path, {
        method: opts.method || 'GET',
        headers,
        body: opts.json !== undefined ? JSON.stringify(opts.json) : undefined,
        cache: 'no-store',
        credentials: 'omit',
        signal: ctrl.signal,
      });
      text = await res.text();
    } catch (e) {
      const why = e && e.name === 'AbortError' ? `no answer within ${(opts.timeoutMs || 20000) / 1000} s` : (e && e.message) || String(e);
      throw new ApiError(0, `${opts.method || 'GET'} ${path.split('?')[0]}: ${why}`);
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    if (text) {
      try { body = JSON.parse(text, reviveExact); } catch (e) { body = null; }
    }
    if (res.status === 401) {
      askForToken((body && body.error) || 'This server wants an API token.');
      throw new ApiError(401, (body && body.error) || 'unauthorized: this server wants a token');
    }
    if (!res.ok) {
      throw new ApiError(res.status, (body && body.error) || `HTTP ${res.status} from ${path.split('?')[0]}`);
    }
    if (body === null) throw new ApiError(res.status, `${path.split('?')[0]} did not answer JSON`);
    return body;
  }

  // ------------------------------------------------------------------ auth
  let authDismissed = false;
  function askForToken(message) {
    state.needToken = true;
    $('auth-message').textContent = sessionToken
      ? `The server refused the stored token: ${message}. Paste another one.`
      : `This server wants an API token: ${message}. Paste one here; it is kept in this browser (localStorage).`;
    if (!authDismissed) $('auth').hidden = false;
    setLive('auth', 'token needed');
  }
  function setupAuth() {
    $('auth').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const token = $('token-input').value.trim();
      if (!token) return;
      storeToken(token);
      authDismissed = false;
      $('token-input').value = '';
      $('auth').hidden = true;
      state.needToken = false;
      updateTokenButton();
      restart();
    });
    $('token-clear').addEventListener('click', () => {
      storeToken('');
      $('token-input').value = '';
      updateTokenButton();
      restart();
    });
    $('token-cancel').addEventListener('click', () => { $('auth').hidden = true; authDismissed = true; });
    $('token-button').addEventListener('click', () => {
      $('auth-message').textContent = sessionToken
        ? 'A token is stored in this browser. Paste another one, or forget it.'
        : 'No token stored: the server answers this browser only if it runs without tokens on 127.0.0.1.';
      $('auth').hidden = !$('auth').hidden;
      if (!$('auth').hidden) $('token-input').focus();
    });
    updateTokenButton();
  }
  function updateTokenButton() {
    $('token-button').textContent = sessionToken ? 'Token ✓' : 'Token';
    $('token-clear').hidden = !sessionToken;
  }
  function restart() {
    loadProducts();
    pollNow();
  }

  // ------------------------------------------------------------------ chart
  let chart = null;
  let candleSeries = null;
  let candleMarkers = null;  // minutes whose bar differs from the exchange's candle
  let volumeSeries = null;

  function timeLabel(time) {
    const ms = Number(time) * 1000;
    return state.interval === '1d' ? fmtUtc(ms, false).slice(0, 10) : `${fmtUtc(ms, false)} UTC`;
  }

  function createChart() {
    const LWC = window.LightweightCharts;
    if (!LWC || typeof LWC.createChart !== 'function') {
      showChartMessage('The chart library (/assets/lightweight-charts.js) did not load.', true);
      return false;
    }
    chart = LWC.createChart($('chart'), {
      autoSize: true,
      layout: {
        background: { type: 'solid', color: '#131722' },
        textColor: '#b2b5be',
        fontSize: 11,
        // The logo injects an inline <style>, which the page's Content-Security-Policy
        // refuses; the footer carries the attribution and the link instead.
        attributionLogo: false,
        panes: { separatorColor: '#2a2e39', separatorHoverColor: 'rgba(120, 123, 134, 0.3)', enableResize: true },
      },
      grid: { vertLines: { color: '#1c2030' }, horzLines: { color: '#1c2030' } },
      crosshair: { mode: LWC.CrosshairMode.Normal },
      rightPriceScale: { borderColor: '#2a2e39' },
      timeScale: { borderColor: '#2a2e39', timeVisible: true, secondsVisible: false, rightOffset: 4, maxBarSpacing: 40 },
      localization: { locale: 'en-US', timeFormatter: timeLabel },
    });
    candleSeries = chart.addSeries(LWC.CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
      priceLineVisible: true,
    });
    candleMarkers = LWC.createSeriesMarkers(candleSeries, []);
    volumeSeries = chart.addSeries(LWC.HistogramSeries, {
      priceFormat: { type: 'volume' }, priceLineVisible: false, lastValueVisible: true, color: UP_VOL,
    }, 1);
    const panes = chart.panes();
    if (panes.length > 1) {
      panes[0].setStretchFactor(3);
      panes[1].setStretchFactor(1);
    }
    chart.subscribeCrosshairMove((param) => {
      const bar = param && param.time !== undefined ? state.barsByTime.get(Number(param.time)) : null;
      renderLegend(bar || state.bars[state.bars.length - 1] || null);
    });
    return true;
  }

  // Digits after the point needed to show every price exactly (2..10).
  function priceDecimals(bars) {
    let d = 2;
    for (const b of bars) {
      for (const k of ['open', 'high', 'low', 'close']) {
        const s = b[k];
        const dot = typeof s === 'string' ? s.indexOf('.') : -1;
        if (dot >= 0) d = Math.max(d, s.length - dot - 1);
      }
    }
    return Math.min(d, 10);
  }

  function lowerBound(candles, time) {
    let lo = 0;
    let hi = candles.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (candles[mid].time < time) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // Sets the series' data. keepView: the same product and interval are being
  // refreshed, so keep what the user looks at: following the newest bar stays
  // following it; a zoomed or scrolled view keeps its bars in place.
  function applyData(candles, volumes, keepView) {
    const ts = chart.timeScale();
    let restore = null;
    const old = state.candles;
    if (keepView && old.length > 0) {
      const lr = ts.getVisibleLogicalRange();
      if (lr) {
        const lastIdx = old.length - 1;
        if (lr.to >= lastIdx) {
          restore = { kind: 'edge', width: lr.to - lr.from, offset: lr.to - lastIdx };
        } else {
          const anchorIdx = Math.min(lastIdx, Math.max(0, Math.round(lr.from)));
          const anchorTime = old[anchorIdx].time;
          const newIdx = lowerBound(candles, anchorTime);
          if (newIdx < candles.length && candles[newIdx].time === anchorTime) {
            const shift = newIdx - anchorIdx;
            restore = { kind: 'logical', from: lr.from + shift, to: lr.to + shift };
          } else {
            const vr = ts.getVisibleRange();
            if (vr) restore = { kind: 'time', from: vr.from, to: vr.to };
          }
        }
      }
    }
    candleSeries.setData(candles);
    volumeSeries.setData(volumes);
    if (candles.length === 0) return;
    if (restore && restore.kind === 'edge') {
      const to = candles.length - 1 + restore.offset;
      ts.setVisibleLogicalRange({ from: to - restore.width, to });
    } else if (restore && restore.kind === 'logical') {
      ts.setVisibleLogicalRange({ from: restore.from, to: restore.to });
    } else if (restore && restore.kind === 'time') {
      try { ts.setVisibleRange({ from: restore.from, to: restore.to }); } catch (e) { ts.fitContent(); }
    } else if (candles.length > 300) {
      ts.setVisibleLogicalRange({ from: candles.length - 300, to: candles.length - 1 + 4 });
    } else {
      ts.fitContent();
    }
  }

  function showChartMessage(text, isError) {
    const m = $('chart-message');
    if (!text) { m.hidden = true; return; }
    m.textContent = text;
    m.classList.toggle('error', !!isError);
    m.hidden = false;
  }

  function setChartWarning(text) {
    const w = $('chart-warning');
    w.textContent = text;
    w.title = text;
    w.hidden = !text;
  }

  function renderLegend(bar) {
    const lg = $('legend');
    lg.replaceChildren();
    lg.append(el('span', { className: 'title', text: `${state.product || '—'} · ${state.interval}` }));
    if (!bar) return;
    const up = Number(bar.close) >= Number(bar.open);
    const cls = up ? 'up' : 'down';
    const kv = (k, v, c) => el('span', null, [el('span', { className: 'k', text: `${k} ` }), el('span', { className: c || cls, text: v })]);
    const change = Number(bar.open) !== 0 ? ((Number(bar.close) - Number(bar.open)) / Number(bar.open)) * 100 : 0;
    lg.append(
      el('span', { className: 'k', text: timeLabel(Date.parse(bar.time) / 1000) }),
      kv('O', bar.open), kv('H', bar.high), kv('L', bar.low), kv('C', bar.close),
      el('span', { className: cls, text: `${change >= 0 ? '+' : ''}${change.toFixed(3)}%` }),
      kv('Vol', bar.volume, 'v'), kv('VWAP', Number(bar.vwap).toFixed(priceDecimals([bar])), 'v'),
      kv('Trades', fmtInt(bar.trades), 'v'),
    );
  }

  function renderChartFooter() {
    $('candle-count').textContent = String(state.candles.length);
    const last = state.bars[state.bars.length - 1];
    const lc = $('last-candle');
    if (!last) {
      lc.textContent = '—';
      for (const k of ['time', 'open', 'high', 'low', 'close']) lc.removeAttribute(`data-${k}`);
    } else {
      lc.textContent = `${timeLabel(Date.parse(last.time) / 1000)}  O ${last.open}  H ${last.high}  L ${last.low}  C ${last.close}  (${fmtInt(last.trades)} trades)`;
      lc.setAttribute('data-time', last.time);
      for (const k of ['open', 'high', 'low', 'close']) lc.setAttribute(`data-${k}`, last[k]);
    }
    $('range').textContent = state.range
      ? `${fmtUtc(state.range.from, false)} → ${fmtUtc(state.range.to, false)} UTC`
      : '';
    $('range').title = state.range
      ? `Bars with period_start in [${state.range.from}, ${state.range.to}) from ${INTERVAL_TABLE[state.interval]}`
      : '';
    if (state.lastRefresh) {
      $('last-update').textContent = `${fmtClock(state.lastRefresh)} UTC`;
      $('last-update').setAttribute('datetime', state.lastRefresh.toISOString());
      $('last-update').title = `bars reloaded at ${state.lastRefresh.toISOString()} (catalog commit ${state.dataCommit ?? '?'})`;
    }
  }

  // ------------------------------------------------------------------ bars
  let barsInflight = null;
  let barsAgain = false;
  let barsSeq = 0;

  // Loads the bars of the selected product and interval; if a load is running,
  // one more follows it (it may have started before the newest commit).
  function refreshBars() {
    if (!chart || !state.product) return Promise.resolve();
    if (barsInflight) { barsAgain = true; return barsInflight; }
    barsInflight = (async () => {
      do {
        barsAgain = false;
        await loadBarsOnce();
      } while (barsAgain);
    })().finally(() => { barsInflight = null; state.loading = false; });
    return barsInflight;
  }

  async function loadBarsOnce() {
    const seq = ++barsSeq;
    const product = state.product;
    const interval = state.interval;
    const commitBefore = state.commit;
    state.loading = true;
    let body;
    try {
      body = await api(`/api/v1/bars?product=${encodeURIComponent(product)}&interval=${interval}`);
    } catch (e) {
      if (seq !== barsSeq || product !== state.product || interval !== state.interval) return;
      state.barsError = e.message;
      if (e.status === 401) return;
      if (state.shown === `${product}|${interval}`) {
        // A failed reload keeps the bars on screen; the next status poll tries again.
        setChartWarning(`reload failed at ${fmtClock(new Date())} UTC, retrying: ${e.message}`);
      } else if (e.status === 404) {
        // Nothing to show for this product and interval (no data in this table yet).
        setBars([], null, product, interval, commitBefore);
        showChartMessage(e.message, false);
      } else {
        showChartMessage(`Could not load bars: ${e.message}`, true);
      }
      return;
    }
    if (seq !== barsSeq || product !== state.product || interval !== state.interval) return;  // superseded
    state.barsError = null;
    setChartWarning('');
    setBars(body.bars || [], { from: body.from, to: body.to }, product, interval, commitBefore);
    loadMismatches(product, interval, seq);
    showChartMessage(state.bars.length ? '' : `No ${interval} bars for ${product} in this range yet.`, false);
  }

  // The 1m bars the reconciliation found different from the exchange's
  // candles, marked on the chart (only for 1m: a candle is one minute).
  async function loadMismatches(product, interval, seq) {
    if (interval !== '1m') { candleMarkers.setMarkers([]); return; }
    let body;
    try {
      body = await api(`/api/v1/reconciliation?product=${encodeURIComponent(product)}`);
    } catch (e) {
      return;  // markers are an extra: the chart stands without them
    }
    if (seq !== barsSeq) return;
    const markers = (body.minutes || []).map((m) => ({
      time: Math.floor(Date.parse(m.minute) / 1000), position: 'aboveBar', shape: 'arrowDown',
      color: '#f0b90b', text: m.status === 'differs' ? '≠' : m.status === 'missing_in_gold' ? 'gap' : 'no candle',
    })).filter((m) => Number.isFinite(m.time)).sort((a, b) => a.time - b.time);
    candleMarkers.setMarkers(markers);
    $('chart').dataset.mismatches = String(markers.length);
  }

  function setBars(bars, range, product, interval, commit) {
    const candles = [];
    const volumes = [];
    const byTime = new Map();
    for (const b of bars) {
      const time = Math.floor(Date.parse(b.time) / 1000);
      if (!Number.isFinite(time)) continue;
      const open = Number(b.open);
      const close = Number(b.close);
      const candle = { time, open, high: Number(b.high), low: Number(b.low), close };
      if (b.provisional) {
        const c = close >= open ? UP_LIVE : DOWN_LIVE;
        Object.assign(candle, { color: c, borderColor: c, wickColor: c });
      }
      candles.push(candle);
      volumes.push({ time, value: Number(b.volume), color: close >= open ? UP_VOL : DOWN_VOL });
      byTime.set(time, b);
    }
    const key = `${product}|${interval}`;
    const keepView = state.shown === key;
    const decimals = priceDecimals(bars);
    candleSeries.applyOptions({ priceFormat: { type: 'price', precision: decimals, minMove: Math.pow(10, -decimals) } });
    chart.applyOptions({ timeScale: { timeVisible: interval !== '1d' } });
    applyData(candles, volumes, keepView);
    state.bars = bars;
    state.candles = candles;
    state.volumes = volumes;
    state.barsByTime = byTime;
    state.range = range;
    state.shown = key;
    state.dataCommit = commit;
    state.lastRefresh = new Date();
    state.ready = true;
    renderChartFooter();
    renderLegend(bars[bars.length - 1] || null);
    syncLiveStream();
  }

  // ------------------------------------------------------------------ products, interval
  function readHash() {
    const p = new URLSearchParams(location.hash.replace(/^#/, ''));
    return { product: p.get('product'), interval: p.get('interval') };
  }
  function writeHash() {
    const p = new URLSearchParams();
    if (state.product) p.set('product', state.product);
    p.set('interval', state.interval);
    history.replaceState(null, '', `#${p.toString()}`);
  }

  let productsLoading = null;
  function loadProducts() {
    if (productsLoading) return productsLoading;
    productsLoading = (async () => {
      let body;
      try {
        body = await api('/api/v1/products');
      } catch (e) {
        if (e.status !== 401) showChartMessage(`Could not list products: ${e.message}`, true);
        return;
      }
      state.products = body.products || [];
      const sel = $('product-select');
      sel.replaceChildren(...state.products.map((p) =>
        el('option', { value: p.product, title: `Gold data ${p.first_date} .. ${p.last_date}`, text: p.product })));
      sel.disabled = state.products.length === 0;
      if (state.products.length === 0) {
        sel.append(el('option', { value: '', text: 'no data yet' }));
        showChartMessage('The lake has no Gold data yet: waiting for the first ETL commit…', false);
        return;
      }
      const names = state.products.map((p) => p.product);
      const wanted = state.product || readHash().product;
      const product = names.includes(wanted) ? wanted : names[0];
      sel.value = product;
      if (product !== state.product || !state.ready) {
        state.product = product;
        writeHash();
        await refreshBars();
      }
    })().finally(() => { productsLoading = null; });
    return productsLoading;
  }

  function selectProduct(product) {
    if (!product || product === state.product) return;
    state.product = product;
    writeHash();
    renderLegend(null);
    refreshBars();
  }

  function selectInterval(interval) {
    if (!INTERVALS.includes(interval)) return;
    for (const b of document.querySelectorAll('.interval')) {
      b.setAttribute('aria-pressed', String(b.dataset.interval === interval));
    }
    if (interval === state.interval) return;
    state.interval = interval;
    writeHash();
    renderLegend(null);
    refreshBars();
  }

  // ------------------------------------------------------------------ live tail (Server-Sent Events)
  // One stream for the shown product while the interval is 1m. A "bars" event
  // replaces the provisional bars after Gold's newest minute; a "commit" event
  // reloads Gold's bars. No live tail (404, `tradelake serve`): none, quietly.
  let liveStream = null;  // {product, ctrl}
  function syncLiveStream() {
    // Only where the server has a live tail (status "live"; `tradelake serve` has none).
    const want = state.interval === '1m' && state.product && state.status && state.status.live ? state.product : null;
    if (liveStream && liveStream.product === want) return;
    if (liveStream) liveStream.ctrl.abort();
    liveStream = null;
    if (!want) return;
    const stream = { product: want, ctrl: new AbortController() };
    liveStream = stream;
    readLiveStream(stream);
  }

  async function readLiveStream(stream) {
    const headers = { Accept: 'text/event-stream' };
    if (sessionToken) headers.Authorization = `Bearer ${sessionToken}`;
    try {
      const res = await fetch(`/api/v1/live?product=${encodeURIComponent(stream.product)}`,
        { headers, cache: 'no-store', credentials: 'omit', signal: stream.ctrl.signal });
      if (res.status === 404) { state.live = 'none'; return; }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      state.live = 'streaming';
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) onLiveEvent(stream, event, data);
        }
      }
    } catch (e) {
      if (stream.ctrl.signal.aborted) return;
    }
    if (liveStream !== stream) return;
    // The stream ended (server restart, network): try again shortly.
    state.live = 'reconnecting';
    setTimeout(() => { if (liveStream === stream) { liveStream = null; syncLiveStream(); } }, LIVE_RETRY_MS);
  }

  function onLiveEvent(stream, event, data) {
    if (liveStream !== stream) return;
    let body;
    try { body = JSON.parse(data, reviveExact); } catch (e) { return; }
    if (event === 'commit') {
      if (body.commit !== state.dataCommit) refreshBars();
      return;
    }
    if (event !== 'bars' || body.product !== state.product || state.interval !== '1m' || !state.ready) return;
    state.liveEvents = (state.liveEvents || 0) + 1;
    const gold = body.gold_minute ? Math.floor(Date.parse(body.gold_minute) / 1000) : -Infinity;
    // Gold up to its newest minute; from there on the tail's bars (Gold's newest
    // minute may still lack trades that came after its ETL run).
    const live = (body.bars || []).filter((b) => Math.floor(Date.parse(b.time) / 1000) >= gold);
    const first = live.length ? Math.floor(Date.parse(live[0].time) / 1000) : Infinity;
    const kept = state.bars.filter((b) => !b.provisional && Math.floor(Date.parse(b.time) / 1000) < first);
    setBars(kept.concat(live.map((b) => Object.assign({}, b, { provisional: true }))), state.range,
      state.product, state.interval, state.dataCommit);
  }

  // ------------------------------------------------------------------ status, health, pipeline
  let pollTimer = null;
  function pollNow() {
    clearTimeout(pollTimer);
    return pollStatus();
  }

  async function pollStatus() {
    try {
      const s = await api('/api/v1/status', { timeoutMs: 10000 });
      state.status = s;
      state.statusAt = new Date();
      const commit = s.catalog ? s.catalog.commit : null;
      state.commit = commit;
      renderHealth(s);
      renderPipeline(s.pipeline);
      syncLiveStream();
      setLive('live', `live · commit ${commit ?? '—'}`);
      if (state.needToken) { state.needToken = false; $('auth').hidden = true; }
      // A product with Gold data that the selector does not list yet, or no product
      // at all: list them again. A commit the shown bars predate: reload the bars.
      const known = new Set(state.products.map((p) => p.product));
      const listed = (s.products || []).some((p) => p.freshness_seconds !== null && !known.has(p.product));
      if (!state.product || (listed && commit !== null && commit > 0)) {
        if (commit !== null && commit > 0) await loadProducts();
      } else if (commit !== state.dataCommit || state.barsError) {
        refreshBars();
      }
    } catch (e) {
      if (e.status !== 401) setLive('error', `offline: ${e.message}`);
    } finally {
      clearTimeout(pollTimer);
      pollTimer = setTimeout(pollStatus, POLL_MS);
    }
  }

  function setLive(kind, text) {
    $('live').dataset.state = kind;
    $('live-text').textContent = text;
    $('live').title = kind === 'live'
      ? `Polls /api/v1/status every 2 s; last answer ${state.statusAt ? state.statusAt.toISOString() : '—'}`
      : text;
  }

  // The share of the last day's reconciled minutes that match the exchange.
  function candleCell(p) {
    const c = p.candles;
    if (!c || !c.compared) return el('td', { className: 'num', 'data-testid': `candles-${p.product}`, title: 'not reconciled in the last day', text: '—' });
    const share = 100 * c.matched / c.compared;
    return el('td', {
      className: `num${c.matched < c.compared ? ' warn' : ''}`, 'data-testid': `candles-${p.product}`,
      title: `${fmtInt(c.matched)} of ${fmtInt(c.compared)} minutes match the exchange's candles exactly (last minute ${c.last_minute || '—'})`,
      text: `${share.toFixed(share === 100 ? 0 : 2)}%`,
    });
  }

  function renderHealth(s) {
    const tbody = $('health-rows');
    const rows = (s.products || []).map((p) => {
      const f = p.freshness_seconds;
      const fresh = f === null || f === undefined ? 'none' : (f < FRESH_SECONDS ? 'fresh' : 'stale');
      const badge = el('span', {
        className: 'badge', 'data-state': fresh, 'data-testid': `freshness-${p.product}`,
        title: f === null || f === undefined ? 'no trade in Silver yet'
          : `newest Silver trade is ${f.toFixed(1)} s old at ${s.now} (fresh: under ${FRESH_SECONDS} s)`,
        text: fresh === 'none' ? 'no data' : fresh,
      });
      return el('tr', {
        'data-testid': `health-${p.product}`, 'data-product': p.product, 'data-freshness': fresh,
        'data-freshness-seconds': f ?? '', 'data-id-gaps': p.id_gaps, 'data-rejected': p.rejected,
      }, [
        el('td', { title: `${fmtInt(p.silver_rows)} Silver rows from ${fmtInt(p.records)} Bronze records`, text: p.product }),
        el('td', null, [badge]),
        el('td', { className: 'num', 'data-testid': `age-${p.product}`, text: fmtAge(f) }),
        el('td', { className: 'mono', 'data-testid': `last-trade-${p.product}`, title: p.last_trade_time || '', text: p.last_trade_time ? fmtClock(p.last_trade_time) : '—' }),
        el('td', { className: `num${p.id_gaps > 0 ? ' warn' : ''}`, 'data-testid': `id-gaps-${p.product}`, text: fmtInt(p.id_gaps) }),
        el('td', { className: `num${p.rejected > 0 ? ' warn' : ''}`, 'data-testid': `rejected-${p.product}`, text: fmtInt(p.rejected) }),
        candleCell(p),
      ]);
    });
    if (rows.length === 0) rows.push(el('tr', { className: 'empty' }, [el('td', { colspan: 7, text: 'no products in the catalog yet' })]));
    tbody.replaceChildren(...rows);

    const cat = $('catalog');
    cat.replaceChildren();
    const c = s.catalog || {};
    if (!c.commit) {
      cat.append('No catalog commit yet (no ETL run has committed).');
    } else {
      let files = 0;
      let bytes = 0;
      for (const t of s.tables || []) { files += Number(t.files) || 0; bytes += Number(t.bytes) || 0; }
      const age = c.committed_at && s.now ? (Date.parse(s.now) - Date.parse(c.committed_at)) / 1000 : null;
      cat.append('Catalog commit ', el('b', { 'data-testid': 'catalog-commit', text: String(c.commit) }),
        ` at ${c.committed_at ? fmtClock(c.committed_at) : '—'} UTC (${fmtAge(age)} ago) · `,
        el('b', { text: fmtInt(files) }), ' files, ', el('b', { text: fmtBytes(bytes) }),
        ` in ${(s.tables || []).length} tables`);
      cat.title = (s.tables || []).map((t) => `${t.name}: ${t.partitions} partitions, ${t.files} files, ${fmtBytes(t.bytes)}`).join('\n');
    }
  }

  let lastPipeline = null;
  function renderPipeline(p) {
    lastPipeline = p || null;
    const badge = $('pipeline-state');
    const btn = $('pipeline-toggle');
    const details = $('pipeline-details');
    const msg = $('pipeline-message');
    if (!p) {
      badge.textContent = 'no pipeline';
      badge.dataset.state = 'none';
      btn.hidden = true;
      if (!msg.classList.contains('error')) {
        msg.textContent = 'This server runs no pipeline (`tradelake serve`): it serves the lake read-only. `tradelake run` ingests and builds Gold continuously.';
      }
      details.replaceChildren();
      return;
    }
    badge.textContent = p.state;
    badge.dataset.state = p.state;
    const paused = !!(p.schedule && p.schedule.paused);
    btn.hidden = false;
    if (!btn.dataset.busy) {
      btn.textContent = paused ? 'Resume ingest' : 'Pause ingest';
      btn.dataset.action = paused ? 'resume' : 'pause';
      btn.disabled = p.state === 'stopping';
    }
    if (!msg.classList.contains('error')) {
      msg.textContent = p.schedule && p.schedule.changed_at
        ? `${paused ? 'Paused' : 'Resumed'} at ${fmtUtc(p.schedule.changed_at)} UTC${p.schedule.by ? ` by ${p.schedule.by}` : ''}.`
        : '';
    }

    const items = [];
    const add = (label, value, cls) => {
      items.push(el('dt', { text: label }), el('dd', { className: cls || null }, [].concat(value)));
    };
    const ing = p.ingest || {};
    const etl = p.etl || {};
    if (p.started_at) add('Started', `${fmtUtc(p.started_at)} UTC`);
    add('Ingest', [
      el('span', { className: 'badge', 'data-state': ing.state, 'data-testid': 'ingest-state', text: ing.state || '—' }),
      ` ${fmtInt(ing.runs)} runs · ${fmtInt(ing.requests)} requests, ${fmtInt(ing.retries)} retries, ${fmtInt(ing.rate_limited)} rate-limited`,
      ing.server_errors || ing.transport_errors
        ? el('span', { className: 'sub', text: ` (${fmtInt(ing.server_errors || 0)} server errors, ${fmtInt(ing.transport_errors || 0)} transport errors)` })
        : null,
    ]);
    if (ing.last_error) add('Ingest error', ing.last_error, 'error');
    for (const lp of ing.products || []) {
      add(`  ${lp.product}`, [
        `${fmtInt(lp.trades_landed)} trades, ${fmtInt(lp.objects_landed)} objects (${fmtBytes(lp.bronze_bytes)})`,
        el('span', { className: 'sub', text: lp.last_landed_at ? ` · landed ${fmtClock(lp.last_landed_at)}` : ' · nothing landed yet' }),
        el('span', { className: 'sub', text: lp.last_trade_time ? ` · newest trade ${fmtClock(lp.last_trade_time)}` : '' }),
      ]);
    }
    add('ETL', [
      el('span', { className: 'badge', 'data-state': etl.state === 'running' ? 'etl-running' : etl.state, 'data-testid': 'etl-state', text: etl.state || '—' }),
      ` ${fmtInt(etl.runs)} runs, ${fmtInt(etl.failures)} failed`,
    ]);
    const lr = etl.last_run;
    if (lr) {
      if (lr.ok && lr.nothing_to_do) {
        add('Last ETL run', `nothing new at ${lr.finished_at ? fmtClock(lr.finished_at) : '—'} (${fmtSeconds(lr.seconds)}); last commit ${lr.commit ?? '—'}`);
      } else if (lr.ok) {
        add('Last ETL run', [
          `commit ${lr.commit ?? '—'} at ${lr.finished_at ? fmtClock(lr.finished_at) : '—'} (${fmtSeconds(lr.seconds)})`,
          el('span', { className: 'sub', text: ` · ${fmtInt(lr.bronze_objects)} objects: ${fmtInt(lr.records)} records = ${fmtInt(lr.inserted)} inserted + ${fmtInt(lr.duplicates)} duplicates + ${fmtInt(lr.rejected)} rejected` }),
        ]);
      } else {
        add('Last ETL run', `failed at ${lr.finished_at ? fmtClock(lr.finished_at) : '—'}: ${lr.error || 'unknown error'}`, 'error');
      }
    } else {
      add('Last ETL run', 'none yet');
    }
    const st = p.settings;
    if (st) {
      const parts = [`poll ${st.poll_interval_seconds} s`, `flush ${st.flush_interval_seconds} s or ${fmtInt(st.flush_trades)} trades`,
        `ETL debounce ${st.etl_debounce_seconds} s${st.etl_max_delay_seconds !== undefined ? ` (at most ${st.etl_max_delay_seconds} s)` : ''}`];
      if (st.rate_limit_per_second !== undefined) parts.push(st.rate_limit_per_second > 0 ? `${st.rate_limit_per_second} requests/s` : 'no rate limit');
      add('Settings', parts.join(' · '));
    }
    details.replaceChildren(...items);
  }

  function setupPipeline() {
    const btn = $('pipeline-toggle');
    btn.addEventListener('click', async () => {
      const action = btn.dataset.action === 'resume' ? 'resume' : 'pause';
      const msg = $('pipeline-message');
      btn.dataset.busy = '1';
      btn.disabled = true;
      btn.textContent = action === 'pause' ? 'Pausing…' : 'Resuming…';
      try {
        const sched = await api(`/api/v1/schedule/${action}`, { method: 'POST', timeoutMs: 10000 });
        msg.classList.remove('error');
        msg.textContent = `${sched.paused ? 'Paused' : 'Resumed'}${sched.changed_at ? ` at ${fmtUtc(sched.changed_at)} UTC` : ''}${sched.by ? ` by ${sched.by}` : ''}.`;
      } catch (e) {
        msg.classList.add('error');
        msg.textContent = `Could not ${action}: ${e.message}`;
        setTimeout(() => msg.classList.remove('error'), 10000);
      } finally {
        delete btn.dataset.busy;
        btn.disabled = false;
        if (lastPipeline) renderPipeline(lastPipeline);
        pollNow();
      }
    });
  }

  // ------------------------------------------------------------------ SQL
  function defaultSql() {
    const p = state.product || 'BTC-USD';
    return `SELECT period_start, open, high, low, close, total_volume, trade_count, vwap
FROM gold.trades_hourly
WHERE product_id = '${p}'
ORDER BY period_start DESC
LIMIT 24`;
  }

  const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL)/i;

  // DECIMAL(38,18) arrives as DuckDB's text ("65020.590000000000000000"): shown
  // without the trailing zeros, which changes no digit of the value.
  function trimDecimal(s) {
    return /^-?\d+\.\d+$/.test(s) ? s.replace(/\.?0+$/, '') : s;
  }

  function cellText(v, type) {
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'string' && /^DECIMAL/i.test(type || '')) return trimDecimal(v);
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function renderSqlResult(r, roundTripMs) {
    const cols = r.columns || [];
    const rows = r.rows || [];
    const result = $('sql-result');
    const shown = rows.slice(0, SQL_DISPLAY_ROWS);
    const numeric = cols.map((c) => NUMERIC.test(c.type || ''));
    const thead = el('thead', null, [el('tr', null, cols.map((c, i) =>
      el('th', { className: numeric[i] ? 'num' : null, title: c.type }, [c.name, el('span', { className: 'type', text: c.type })])))]);
    const tbody = el('tbody', null, shown.map((row) => el('tr', null, row.map((v, i) =>
      el('td', {
        className: v === null ? 'null' : (numeric[i] ? 'num' : null),
        title: typeof v === 'string' && v.length > 24 ? v : null,
        text: cellText(v, cols[i] && cols[i].type),
      })))));
    const table = el('table', { className: 'grid', 'data-testid': 'sql-table', 'data-rows': rows.length, 'data-columns': cols.length }, [thead, tbody]);
    const notes = [];
    if (r.truncated) notes.push(el('div', { className: 'sql-note', 'data-testid': 'sql-truncated', text: `Truncated: the server returned only the first ${fmtInt(rows.length)} rows. Add a LIMIT or aggregate.` }));
    if (rows.length > shown.length) notes.push(el('div', { className: 'sql-note', text: `Showing the first ${fmtInt(shown.length)} of ${fmtInt(rows.length)} rows.` }));
    if (rows.length === 0) notes.push(el('div', { className: 'muted', text: 'No rows.' }));
    result.replaceChildren(...notes, table);

    const s = r.scan || {};
    const scan = $('sql-scan');
    const skipped = Number(s.files_total) - Number(s.files_read);
    scan.replaceChildren(
      el('b', { text: `${fmtInt(s.rows ?? rows.length)} rows` }), ` in ${fmtSeconds(s.elapsed_seconds)} · read `,
      el('b', { text: `${fmtInt(s.files_read)} of ${fmtInt(s.files_total)} files` }), ', ',
      el('b', { 'data-testid': 'sql-bytes', text: fmtBytes(s.bytes_read) }), ` (${fmtInt(s.bytes_read)} bytes) of ${fmtBytes(s.bytes_total)}`,
      skipped > 0 ? ` (${fmtInt(skipped)} skipped)` : '',
      ` · Athena: $${Number(s.athena_usd).toFixed(6)} (10 MB minimum)`,
      el('span', { className: 'muted', text: ` · ${r.statement_type || ''} round trip ${Math.round(roundTripMs)} ms` }),
    );
    for (const k of ['files_read', 'files_total', 'bytes_read', 'bytes_total', 'rows', 'elapsed_seconds', 'athena_usd']) {
      scan.setAttribute(`data-${k.replace(/_/g, '-')}`, String(s[k]));
    }
  }

  let sqlRunning = false;
  async function runSql() {
    if (sqlRunning) return;
    const sql = $('sql-input').value;
    if (!sql.trim()) return;
    try { localStorage.setItem(SQL_KEY, sql); } catch (e) { /* not stored */ }
    sqlRunning = true;
    const run = $('sql-run');
    run.disabled = true;
    $('sql-status').textContent = 'running…';
    $('sql-error').hidden = true;
    const result = $('sql-result');
    result.setAttribute('aria-busy', 'true');
    const t0 = performance.now();
    try {
      const r = await api('/api/v1/sql', { method: 'POST', json: { sql }, timeoutMs: 300000 });
      renderSqlResult(r, performance.now() - t0);
      $('sql-status').textContent = `done at ${fmtClock(new Date())} UTC`;
    } catch (e) {
      $('sql-error').textContent = e.status ? `${e.message}  (HTTP ${e.status})` : e.message;
      $('sql-error').hidden = false;
      $('sql-status').textContent = 'failed';
      $('sql-scan').replaceChildren();
      result.replaceChildren();
    } finally {
      result.removeAttribute('aria-busy');
      run.disabled = false;
      sqlRunning = false;
    }
  }

  function setupSql() {
    const input = $('sql-input');
    let saved = '';
    try { saved = localStorage.getItem(SQL_KEY) || ''; } catch (e) { saved = ''; }
    input.value = saved || defaultSql();
    $('sql-form').addEventListener('submit', (ev) => { ev.preventDefault(); runSql(); });
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        runSql();
      } else if (ev.key === 'Tab' && !ev.shiftKey) {
        ev.preventDefault();
        input.setRangeText('  ', input.selectionStart, input.selectionEnd, 'end');
      }
    });
  }

  // ------------------------------------------------------------------ test hooks
  function exposeHooks() {
    const copy = (o) => (o === null || o === undefined ? o : JSON.parse(JSON.stringify(o)));
    const hooks = Object.freeze({
      candles: () => state.candles.map((c) => ({ ...c })),
      volumes: () => state.volumes.map((v) => ({ ...v })),
      bars: () => copy(state.bars),
      product: () => state.product,
      products: () => state.products.map((p) => p.product),
      interval: () => state.interval,
      table: () => INTERVAL_TABLE[state.interval],
      range: () => (state.range ? { ...state.range } : null),
      commit: () => state.dataCommit,
      statusCommit: () => state.commit,
      lastRefresh: () => (state.lastRefresh ? state.lastRefresh.toISOString() : null),
      lastStatus: () => (state.statusAt ? state.statusAt.toISOString() : null),
      status: () => copy(state.status),
      pipelineState: () => (state.status && state.status.pipeline ? state.status.pipeline.state : null),
      loading: () => state.loading || !!barsInflight,
      ready: () => state.ready,
      live: () => state.live || null,               // 'streaming', 'reconnecting', 'none' (no live tail)
      liveEvents: () => state.liveEvents || 0,      // provisional bar updates received
      provisional: () => state.bars.filter((b) => b.provisional).length,
      visibleRange: () => (chart ? copy(chart.timeScale().getVisibleLogicalRange()) : null),
      visibleTimeRange: () => (chart ? copy(chart.timeScale().getVisibleRange()) : null),
    });
    Object.defineProperty(window, 'tradelakeDashboard', { value: hooks, writable: false, configurable: false, enumerable: true });
  }

  // ------------------------------------------------------------------ start
  function start() {
    exposeHooks();
    setupAuth();
    setupPipeline();
    setupSql();
    const h = readHash();
    if (INTERVALS.includes(h.interval)) state.interval = h.interval;
    for (const b of document.querySelectorAll('.interval')) {
      b.setAttribute('aria-pressed', String(b.dataset.interval === state.interval));
      b.addEventListener('click', () => selectInterval(b.dataset.interval));
    }
    $('product-select').addEventListener('change', (ev) => selectProduct(ev.target.value));
    window.addEventListener('hashchange', () => {
      const x = readHash();
      if (x.interval && x.interval !== state.interval) selectInterval(x.interval);
      if (x.product && x.product !== state.product && state.products.some((p) => p.product === x.product)) {
        $('product-select').value = x.product;
        selectProduct(x.product);
      }
    });
    renderLegend(null);
    if (!createChart()) return;
    loadProducts();
    pollStatus();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
