#!/usr/bin/env node
// Browser test for the ketang web player (TAP output).
//
// Usage:  node tests/browser/player.test.mjs <path-to-ketang-binary>
//    or:  KETANG_BIN=build/src/ketang node tests/browser/player.test.mjs
//
// Starts `ketang serve --demo` on a free loopback port with a throw-away
// data directory, waits for channel 1 to go on air, then drives Debian's
// Chromium (through playwright-core, no browser download) against the real
// page and checks that the demo lesson is shown and actually plays.
//
// Environment:
//   KETANG_BIN               server binary (if not given as argv[2])
//   CHROMIUM                 browser binary (default /usr/bin/chromium)
//   KETANG_SCREENSHOT_DIR    where screenshots go (default: a new directory
//                            under the system temp dir, kept and printed)
//   KETANG_TEST_VERBOSE=1    echo the server's log as TAP comments

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const SERVER_START_TIMEOUT_MS = 120_000;
const ON_AIR_TIMEOUT_MS = 120_000;
const PLAYING_TIMEOUT_MS = 40_000;
const ADVANCE_TIMEOUT_MS = 40_000;
const ADVANCE_SECONDS = 6;
const OVERALL_TIMEOUT_MS = 8 * 60_000;
const DEMO_TITLE_PART = '太极拳';

const verbose = process.env.KETANG_TEST_VERBOSE === '1';

// ---------------------------------------------------------------------------
// TAP

const TESTS = [
  'server starts and announces its URL',
  '/api/channels reports channel 1 on-air',
  'page, player script and hls.js are served',
  'page loads in Chromium and uses hls.js',
  '#now-title shows the demo lesson title',
  "today's guide lists the channel's lessons",
  `video currentTime advances by at least ${ADVANCE_SECONDS} s`,
  'a live talk on air: hls.js holds back one segment, not three',
  'screenshot saved',
  'audio-only toggle plays the audio-only variant',
  'English toggle switches the UI strings',
  'phone-size layout keeps big type and buttons',
  'window.ketangPlayer.errors is empty',
  'no page errors',
  'server exits with code 0 on SIGTERM',
];

let testNo = 0;
let passed = 0;
let failed = 0;
let skipped = 0;
let blocked = null; // reason later steps are skipped

function diag(text) {
  for (const line of String(text).split('\n')) {
    console.log(`# ${line}`);
  }
}

async function step(fn) {
  const name = TESTS[testNo];
  testNo += 1;
  if (blocked) {
    console.log(`ok ${testNo} - ${name} # SKIP ${blocked}`);
    skipped += 1;
    return undefined;
  }
  try {
    const result = await fn();
    console.log(`ok ${testNo} - ${name}`);
    passed += 1;
    return result;
  } catch (err) {
    failed += 1;
    console.log(`not ok ${testNo} - ${name}`);
    diag(err && err.stack ? err.stack : String(err));
    return undefined;
  }
}

// A failure of this step makes the following dependent steps meaningless.
async function gate(fn, reason) {
  const before = failed;
  const result = await step(fn);
  if (failed !== before) {
    blocked = reason;
  }
  return result;
}

function assert(cond, message) {
  if (!cond) {
    throw new Error(message);
  }
}

// ---------------------------------------------------------------------------
// Server process

const bin = process.argv[2] || process.env.KETANG_BIN;
const serverLog = [];
let server = null;
let serverExit = null; // { code, signal } once exited
let serverExited = null; // promise
let serverBase = null;

function startServer(dataDir) {
  fs.mkdirSync(path.join(dataDir, 'schedules'), { recursive: true });
  server = spawn(bin, ['serve', '--demo', '--listen', '127.0.0.1:0', '--data', dataDir], {
    // An empty timetable: only the demo channel, so no slate is being
    // rendered while the player is measured.
    env: { ...process.env, KETANG_DEMO_SECONDS: '12',
           KETANG_SERVER_SCHEDULES_DIR: path.join(dataDir, 'schedules') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  serverExited = new Promise((resolve) => {
    server.on('exit', (code, signal) => {
      serverExit = { code, signal };
      resolve(serverExit);
    });
    server.on('error', (err) => {
      serverLog.push(`[spawn error] ${err.message}`);
      serverExit = { code: null, signal: null, error: err };
      resolve(serverExit);
    });
  });

  let listeners = [];
  const onLine = (line) => {
    serverLog.push(line);
    if (serverLog.length > 2000) {
      serverLog.splice(0, serverLog.length - 2000);
    }
    if (verbose) {
      diag(`server: ${line}`);
    }
    for (const l of listeners) {
      l(line);
    }
  };
  for (const stream of [server.stdout, server.stderr]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i).replace(/\r$/, ''));
        buf = buf.slice(i + 1);
      }
    });
    stream.on('end', () => {
      if (buf) {
        onLine(buf);
        buf = '';
      }
    });
  }

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no "listening on http://..." line within ${SERVER_START_TIMEOUT_MS / 1000} s`));
    }, SERVER_START_TIMEOUT_MS);
    listeners.push((line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        listeners = [];
        resolve(m[1].endsWith('/') ? m[1] : `${m[1]}/`);
      }
    });
    serverExited.then((st) => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening (code ${st.code}, signal ${st.signal})`));
    });
  });
}

async function stopServer(timeoutMs = 15_000) {
  if (!server || serverExit) {
    return serverExit;
  }
  server.kill('SIGTERM');
  const res = await Promise.race([serverExited, sleep(timeoutMs).then(() => null)]);
  if (res) {
    return res;
  }
  server.kill('SIGKILL');
  await serverExited;
  return { ...serverExit, timedOut: true };
}

// Best effort: let the server finish rendering other channels' media (it
// keeps the CPU busy) before the browser starts decoding video. Not a
// failure if it takes longer.
// Render jobs still running according to the server's log ("job ...
// started" / "job ... done" lines); 0 if the log does not say.
function runningJobs() {
  let started = 0;
  let done = 0;
  for (const line of serverLog) {
    if (/\bjob\b.*\bstarted\b/.test(line)) {
      started += 1;
    } else if (/\bjob\b.*\b(done|failed)\b/.test(line)) {
      done += 1;
    }
  }
  return Math.max(0, started - done);
}

async function waitForQuietServer(timeoutMs = 60_000) {
  const t0 = Date.now();
  const deadline = t0 + timeoutMs;
  let quietSince = 0;
  while (Date.now() < deadline) {
    let busy = runningJobs() > 0;
    try {
      const r = await getJson(`${serverBase}api/channels`);
      if (r.body && Array.isArray(r.body.channels) &&
          r.body.channels.some((c) => c.state === 'preparing')) {
        busy = true;
      }
    } catch {
      busy = true;
    }
    if (busy) {
      quietSince = 0;
    } else if (!quietSince) {
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= 2000) {
      diag(`server quiet after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return;
    }
    await sleep(500);
  }
  diag('server still busy rendering; going on anyway');
}

async function getJson(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // leave null
  }
  return { status: res.status, body, text };
}

// ---------------------------------------------------------------------------
// Page helpers

function playerSnapshot() {
  // Runs in the page.
  /* global document, window */
  const v = document.getElementById('video');
  const kp = window.ketangPlayer || {};
  const buffered = [];
  if (v) {
    for (let i = 0; i < v.buffered.length; i++) {
      buffered.push(`${v.buffered.start(i).toFixed(2)}-${v.buffered.end(i).toFixed(2)}`);
    }
  }
  return {
    state: kp.state,
    channel: kp.channel,
    engine: kp.engine,
    source: kp.source,
    audioOnly: kp.audioOnly,
    errors: (kp.errors || []).slice(),
    recoveries: (kp.recoveries || []).slice(),
    warnings: (kp.warnings || []).slice(-10),
    wall: performance.now() / 1000,
    currentTime: v ? v.currentTime : null,
    paused: v ? v.paused : null,
    muted: v ? v.muted : null,
    readyState: v ? v.readyState : null,
    videoWidth: v ? v.videoWidth : null,
    buffered: buffered.join(' '),
    status: (document.getElementById('status') || {}).textContent,
    nowTitle: (document.getElementById('now-title') || {}).textContent,
  };
}

async function waitFor(page, predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let snap = null;
  while (Date.now() < deadline) {
    snap = await page.evaluate(playerSnapshot);
    if (predicate(snap)) {
      return snap;
    }
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last player state:\n${JSON.stringify(snap, null, 2)}`);
}

// A DOM click: no actionability waits, so it stays quick on a loaded machine.
async function clickDom(page, selector) {
  const found = await page.evaluate((sel) => {
    const el = document.querySelector(sel);
    if (!el) {
      return false;
    }
    el.click();
    return true;
  }, selector);
  assert(found, `no element ${selector}`);
}

// Waits for the player to be playing, then for currentTime to advance.
async function waitForAdvance(page, seconds, label) {
  const start = await waitFor(page, (s) => s.state === 'playing' && !s.paused, PLAYING_TIMEOUT_MS,
    `${label}: state "playing"`);
  const t0 = start.currentTime;
  // Count only forward steps no faster than the page's clock, with media
  // to play (real playback), not seeks: a jump to the live edge or over a
  // hole in the buffer must not pass for playing.
  let prev = start;
  let played = 0;
  const snap = await waitFor(page, (s) => {
    const d = s.currentTime - prev.currentTime;
    const wall = s.wall - prev.wall;
    prev = s;
    if (d > 0 && d <= wall * 1.2 + 0.2 && !s.paused && s.readyState >= 3) {
      played += d;
    }
    return played >= seconds;
  }, ADVANCE_TIMEOUT_MS, `${label}: ${seconds} s of playback from ${t0.toFixed(2)}`);
  return { t0, snap, played };
}

// ---------------------------------------------------------------------------
// Main

let browser = null;
let dataRoot = null;

async function cleanup() {
  if (browser) {
    const b = browser;
    browser = null;
    await Promise.race([b.close().catch(() => {}), sleep(10_000)]);
  }
  if (server && !serverExit) {
    await stopServer(5_000);
  }
  if (dataRoot) {
    fs.rmSync(dataRoot, { recursive: true, force: true });
    dataRoot = null;
  }
}

async function main() {
  console.log('TAP version 13');
  if (!bin) {
    console.log('Bail out! no ketang binary: pass it as the first argument or set KETANG_BIN');
    return 1;
  }
  if (!fs.existsSync(bin)) {
    console.log(`Bail out! ketang binary not found: ${bin}`);
    return 1;
  }
  const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(chromiumPath)) {
    console.log(`Bail out! Chromium not found at ${chromiumPath} (apt-get install chromium, or set CHROMIUM)`);
    return 1;
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (err) {
    console.log(`Bail out! playwright-core is not installed (run npm ci at the repository root): ${err.message}`);
    return 1;
  }

  console.log(`1..${TESTS.length}`);
  dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-browser-test-'));
  const shotDir = process.env.KETANG_SCREENSHOT_DIR ||
    fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-browser-shots-'));
  fs.mkdirSync(shotDir, { recursive: true });

  const pageErrors = [];
  let page = null;
  let base = null;

  // 1
  base = await gate(async () => {
    const url = await startServer(path.join(dataRoot, 'data'));
    serverBase = url;
    diag(`server at ${url}`);
    return url;
  }, 'server did not start');

  // 2
  await gate(async () => {
    const deadline = Date.now() + ON_AIR_TIMEOUT_MS;
    let last = null;
    while (Date.now() < deadline) {
      assert(!serverExit, `server exited (code ${serverExit && serverExit.code})`);
      try {
        const r = await getJson(`${base}api/channels`);
        last = `${r.status} ${r.text.slice(0, 500)}`;
        const ch = r.body && Array.isArray(r.body.channels) &&
          r.body.channels.find((c) => String(c.id) === '1');
        if (r.status === 200 && ch && ch.state === 'on-air') {
          diag(`channel 1: ${JSON.stringify(ch)}`);
          await waitForQuietServer();
          return;
        }
      } catch (err) {
        last = String(err);
      }
      await sleep(1000);
    }
    throw new Error(`channel 1 not on-air within ${ON_AIR_TIMEOUT_MS / 1000} s; last answer: ${last}`);
  }, 'channel 1 never went on air');

  // 3
  await step(async () => {
    const checks = [
      ['', /text\/html/],
      ['player.js', /javascript/],
      ['player.css', /text\/css/],
      ['base.css', /text\/css/],
      ['vendor/hls.min.js', /javascript/],
    ];
    for (const [p, type] of checks) {
      const res = await fetch(`${base}${p}`, { signal: AbortSignal.timeout(5000) });
      const ct = res.headers.get('content-type') || '';
      await res.arrayBuffer();
      assert(res.status === 200, `GET /${p}: HTTP ${res.status}`);
      assert(type.test(ct), `GET /${p}: unexpected Content-Type "${ct}"`);
    }
  });

  // 4
  await gate(async () => {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--autoplay-policy=no-user-gesture-required'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
    page = await context.newPage();
    page.on('pageerror', (err) => {
      pageErrors.push(err && err.stack ? err.stack : String(err));
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') {
        diag(`console.${msg.type()}: ${msg.text()}`);
      }
    });
    const resp = await page.goto(base, { waitUntil: 'load', timeout: 30_000 });
    assert(resp && resp.status() === 200, `GET / in browser: HTTP ${resp && resp.status()}`);
    const info = await page.evaluate(() => ({
      hls: typeof window.Hls === 'function' && window.Hls.isSupported(),
      player: typeof window.ketangPlayer === 'object',
      lang: document.documentElement.lang,
    }));
    assert(info.player, 'window.ketangPlayer is missing');
    assert(info.hls, 'hls.js is not loaded or not supported');
    assert(info.lang === 'zh-CN', `html lang is "${info.lang}", expected zh-CN`);
  }, 'page did not load');

  // 5
  await step(async () => {
    await page.waitForFunction((part) => {
      const el = document.getElementById('now-title');
      return el && el.textContent.indexOf(part) >= 0;
    }, DEMO_TITLE_PART, { timeout: 30_000, polling: 250 }).catch(async (err) => {
      const text = await page.evaluate(() => (document.getElementById('now-title') || {}).textContent);
      throw new Error(`#now-title is "${text}", expected it to contain "${DEMO_TITLE_PART}" (${err.message})`);
    });
    const text = await page.textContent('#now-title');
    diag(`now-title: ${text}`);
  });

  // 5b: the day's guide (the demo channel loops one short lesson all day:
  // at most 8 lines of it; tests/browser/boundary.test.mjs checks the
  // guide of a real timetable across lessons).
  await step(async () => {
    await page.waitForFunction(() => document.querySelectorAll('#guide-list li').length > 0,
      null, { timeout: 15_000, polling: 250 });
    const shown = await page.evaluate(() => Array.from(document.querySelectorAll('#guide-list li'))
      .map((li) => li.textContent));
    assert(shown.length === 8, `${shown.length} guide lines`);
    shown.forEach((l) => assert(/^\d\d:\d\d/.test(l) && l.includes(DEMO_TITLE_PART), `guide line "${l}"`));
    diag(`guide: ${shown.slice(0, 2).join(' | ')} …`);
  });

  // 6
  await step(async () => {
    const { t0, snap, played } = await waitForAdvance(page, ADVANCE_SECONDS, 'main page');
    diag(`played ${played.toFixed(2)} s: currentTime ${t0.toFixed(2)} -> ${snap.currentTime.toFixed(2)}, engine ${snap.engine}, ` +
      `muted ${snap.muted}, ${snap.videoWidth}px wide, buffered ${snap.buffered}`);
    assert(snap.channel === '1', `ketangPlayer.channel is ${JSON.stringify(snap.channel)}, expected "1"`);
  });

  // 6b: while /api/channels says a live talk (live:…) is on, the running
  // hls.js holds back one segment (2 s, catching up at up to 1.1x) instead
  // of three; when it says a recorded lesson again, three. (hls.js adds up
  // to a segment to its target after stalls, hence the ranges.)
  await step(async () => {
    const holdBack = () => page.evaluate(() => {
      const h = window.ketangPlayer.getHls();
      return h && { target: h.targetLatency, rate: h.config.maxLiveSyncPlaybackRate };
    });
    const recorded = await holdBack();
    assert(recorded && recorded.target >= 6 && recorded.target <= 8 && recorded.rate === 1,
      `recorded lesson: ${JSON.stringify(recorded)}`);
    await page.route('**/api/channels', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      for (const ch of body.channels) if (ch.now) ch.now.source = 'live:talk';
      await route.fulfill({ response, json: body });
    });
    await page.waitForFunction(() => { const h = window.ketangPlayer.getHls(); return h && h.targetLatency < 5; },
      null, { timeout: 40_000, polling: 250 });
    const live = await holdBack();
    assert(live.target >= 2 && live.target <= 4 && live.rate === 1.1, `live talk: ${JSON.stringify(live)}`);
    await page.unroute('**/api/channels');
    await page.waitForFunction(() => { const h = window.ketangPlayer.getHls(); return h && h.targetLatency >= 6; },
      null, { timeout: 40_000, polling: 250 });
    const after = await holdBack();
    assert(after.rate === 1, `after the talk: ${JSON.stringify(after)}`);
    diag(`hold-back: recorded ${recorded.target} s, live talk ${live.target} s, after ${after.target} s`);
    await waitForAdvance(page, 2, 'after the live talk');
  });

  // 7
  await step(async () => {
    const file = path.join(shotDir, 'player-desktop.png');
    await page.screenshot({ path: file, timeout: 60_000 });
    diag(`screenshot: ${file}`);
  });

  // 8
  await step(async () => {
    await clickDom(page, '#audio-only');
    const pressed = await page.getAttribute('#audio-only', 'aria-pressed');
    assert(pressed === 'true', `#audio-only aria-pressed is ${pressed}`);
    const { t0, snap } = await waitForAdvance(page, 3, 'audio-only');
    diag(`audio-only source ${snap.source}, currentTime ${t0.toFixed(2)} -> ${snap.currentTime.toFixed(2)}`);
    assert(snap.audioOnly === true, 'ketangPlayer.audioOnly is not true');
    assert(snap.source && !/\/live\/1\/index\.m3u8$/.test(snap.source),
      `still playing the master playlist (${snap.source}); no audio-only variant found`);
    assert(snap.videoWidth === 0, `audio-only stream still has video (${snap.videoWidth}px wide)`);
    await page.screenshot({ path: path.join(shotDir, 'player-audio-only.png'), timeout: 60_000 });
    // Back to video for the remaining checks.
    await clickDom(page, '#audio-only');
    await waitForAdvance(page, 1, 'back to video');
  });

  // 9
  await step(async () => {
    await clickDom(page, '#lang-toggle');
    const r = await page.evaluate(() => ({
      lang: document.documentElement.lang,
      fullscreen: document.getElementById('fullscreen').textContent,
      toggle: document.getElementById('lang-toggle').textContent,
      title: document.getElementById('now-title').textContent,
    }));
    assert(r.lang === 'en', `html lang is ${r.lang} after the toggle`);
    assert(r.fullscreen === 'Full screen', `full-screen button says "${r.fullscreen}"`);
    assert(r.toggle === '中文', `language toggle says "${r.toggle}"`);
    assert(r.title.indexOf(DEMO_TITLE_PART) >= 0, `now-title changed to "${r.title}"`);
    await clickDom(page, '#lang-toggle');
    const back = await page.evaluate(() => document.getElementById('fullscreen').textContent);
    assert(back === '全屏', `full-screen button says "${back}" after switching back`);
  });

  // 10
  await step(async () => {
    // Same page at phone size (a second player would double the decoding
    // load): layout must stay usable and big.
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await sleep(500);
      const m = await page.evaluate(() => {
        const px = (el) => parseFloat(window.getComputedStyle(el).fontSize);
        const buttons = Array.prototype.slice.call(document.querySelectorAll('.controls .btn, .channel'));
        return {
          bodyFont: px(document.body),
          titleFont: px(document.getElementById('now-title')),
          title: document.getElementById('now-title').textContent,
          smallestButton: Math.min.apply(null, buttons.map((b) => b.getBoundingClientRect().height)),
          buttons: buttons.length,
          scrollWidth: document.documentElement.scrollWidth,
        };
      });
      diag(`phone layout: ${JSON.stringify(m)}`);
      assert(m.title.indexOf(DEMO_TITLE_PART) >= 0, `#now-title is "${m.title}"`);
      assert(m.bodyFont >= 22, `base font ${m.bodyFont}px < 22px`);
      assert(m.buttons >= 3 && m.smallestButton >= 56, `smallest button ${m.smallestButton}px < 56px`);
      assert(m.scrollWidth <= 390, `page is ${m.scrollWidth}px wide at a 390px viewport`);
      const file = path.join(shotDir, 'player-phone.png');
      await page.screenshot({ path: file, fullPage: true, timeout: 60_000 });
      diag(`screenshot: ${file}`);
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  // 11
  await step(async () => {
    const snap = await page.evaluate(playerSnapshot);
    if (snap.recoveries.length) {
      diag(`recoveries: ${JSON.stringify(snap.recoveries)}`);
    }
    if (snap.warnings.length) {
      diag(`non-fatal warnings: ${JSON.stringify(snap.warnings)}`);
    }
    assert(Array.isArray(snap.errors), 'ketangPlayer.errors is not an array');
    assert(snap.errors.length === 0, `ketangPlayer.errors: ${JSON.stringify(snap.errors)}`);
  });

  // 12
  await step(async () => {
    assert(pageErrors.length === 0, `page errors:\n${pageErrors.join('\n')}`);
  });

  if (browser) {
    const b = browser;
    browser = null;
    await Promise.race([b.close().catch(() => {}), sleep(10_000)]);
  }

  // 13 (runs even if earlier steps failed, as long as the server started)
  blocked = server ? null : 'server was never started';
  await step(async () => {
    assert(!serverExit, `server had already exited (code ${serverExit && serverExit.code}, signal ${serverExit && serverExit.signal})`);
    const res = await stopServer(15_000);
    assert(!res.timedOut, 'server did not exit within 15 s of SIGTERM (killed)');
    assert(res.code === 0, `server exit code ${res.code}, signal ${res.signal}`);
  });

  if (failed) {
    diag('last server log lines:');
    for (const line of serverLog.slice(-60)) {
      diag(`  ${line}`);
    }
  }
  diag(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed ? 1 : 0;
}

const overall = setTimeout(async () => {
  console.log(`Bail out! overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s`);
  await cleanup();
  process.exit(1);
}, OVERALL_TIMEOUT_MS);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    console.log(`Bail out! interrupted by ${sig}`);
    await cleanup();
    process.exit(1);
  });
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.log(`Bail out! ${err && err.stack ? err.stack.split('\n')[0] : err}`);
  diag(err && err.stack ? err.stack : String(err));
  code = 1;
} finally {
  await cleanup();
  clearTimeout(overall);
}
process.exitCode = code;
