#!/usr/bin/env node
// Latency of a live talk from the speaker's picture to a viewer's screen,
// read off the screen: run on purpose, not by the test suite.
//
//   node bench/live-latency.mjs [SECONDS] [RUNS]    (default 60 s, 3 runs)
//
// The method. Each run starts a fresh `ketang serve` (its own data dir,
// free ports) whose timetable airs a live talk on channel 9 from a minute
// ago, makes a teacher and their publish key, and opens the player page
// (web/index.html with hls.js and player.js's own settings) in headless
// Chromium on channel 9, where the talk's slate shows. Then
// build/bench/kt-stamp-publisher publishes over SRT, as OBS would, a picture
// in which every frame carries the wall-clock time (ms) it was made, as
// blocks of black and white (see its essay). A script in the page draws
// every frame the <video> presents (requestVideoFrameCallback) onto a small
// canvas, decodes the blocks and records Date.now () − that time: the
// latency of the frame on screen. Publisher, server and viewer run on this
// machine, so there is one clock. Samples are kept from WARMUP_S after the
// first picture of the talk showed (the player settles on the live edge),
// for SECONDS; a run reports their median and worst.
//
// Where the time goes. The script also reads the 720p playlist every
// 100 ms and notes when each live segment is first listed; after the run it
// decodes each listed segment's first and last frame (ffmpeg) and reports
// the age of both when the segment was listed, and the last frame's age
// when the recording's copy of the segment was last written (splitmuxsink
// closed it). So: closed − last frame is encoding and cutting; listed −
// closed is the wait for the segment's slot (kt-live.c); the first frame is
// 2 s older than the last; the viewer's latency beyond the first frame's
// age at listing is the player's hold-back. "frozen" adds up the gaps of
// more than 200 ms between stamped frames shown (a stall, or a browser
// starved of CPU on a loaded machine). KETANG_BENCH_TRACE=1 prints what the
// player did every 500 ms and when each segment was listed.
//
// Environment: KETANG_BIN (default build/src/ketang), KETANG_PUBLISHER
// (default build/bench/kt-stamp-publisher), CHROMIUM (default
// /usr/bin/chromium); KETANG_* config overrides (e.g.
// KETANG_LIVE_SRT_LATENCY_MS) pass through to the server.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const bin = process.env.KETANG_BIN || path.join(root, 'build/src/ketang');
const publisherBin = process.env.KETANG_PUBLISHER || path.join(root, 'build/bench/kt-stamp-publisher');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const SECONDS = Number(process.argv[2] || 60);
const RUNS = Number(process.argv[3] || 3);
const WARMUP_S = 15;

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const worst = (xs) => Math.max(...xs);
const sec = (ms) => (ms / 1000).toFixed(2);

function freeUdpPort () {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function icsTime (ms) {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

// The publisher's stamp (kt-stamp-publisher.c), from @cell(i): the mean
// grey of the middle of cell i of the 16 x 4 grid in the top 160/360 of the
// picture. The time in ms, or null when the marks or the check do not
// hold. Used here on segments and, as its source text, in the page.
function decodeStamp (cell) {
  if (!(cell(0) > 128 && cell(1) < 128)) return null;
  let ms = 0, ones = 0, check = 0;
  for (let i = 2; i < 50; i++) { const b = cell(i) > 128 ? 1 : 0; ms = ms * 2 + b; ones += b; }
  for (let i = 50; i < 56; i++) check = check * 2 + (cell(i) > 128 ? 1 : 0);
  return check === ones ? ms : null;
}

// First and last frame's stamp of the segment at @url (ffmpeg, 160x90 grey).
function segmentStamps (url) {
  const W = 160, H = 90;
  const r = spawnSync('ffmpeg', ['-loglevel', 'error', '-i', url, '-an', '-vf', `scale=${W}:${H}`,
    '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { maxBuffer: 64 << 20 });
  const frames = Math.floor(r.stdout.length / (W * H));
  if (frames === 0) return null;
  const stampOf = (f) => decodeStamp((i) => {
    const x0 = (i % 16) * 10 + 3, y0 = Math.floor(i / 16) * 10 + 3;
    let sum = 0;
    for (let y = y0; y < y0 + 4; y++)
      for (let x = x0; x < x0 + 4; x++) sum += r.stdout[f * W * H + y * W + x];
    return sum / 16;
  });
  return { first: stampOf(0), last: stampOf(frames - 1) };
}

async function run (index) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-latency-'));
  fs.mkdirSync(path.join(data, 'schedules'));
  const now = Date.now();
  fs.writeFileSync(path.join(data, 'schedules', '9.ics'), [
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//ketang//bench//EN', 'X-WR-CALNAME:报告会',
    'X-KETANG-CHANNEL:9', 'BEGIN:VEVENT', 'UID:latency', 'SUMMARY:延迟测试',
    `DTSTART:${icsTime(now - 60_000)}`, `DTEND:${icsTime(now + 3 * 3600_000)}`,
    'X-KETANG-SOURCE:live:bench', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n'));
  const srtPort = await freeUdpPort();
  const children = [];
  let browser = null;
  const cleanup = async () => {
    if (browser) await browser.close().catch(() => {});
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await sleep(500);
    fs.rmSync(data, { recursive: true, force: true });
  };
  try {
    const server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', data], {
      env: { ...process.env, KETANG_SERVER_SCHEDULES_DIR: path.join(data, 'schedules'),
        KETANG_LIVE_SRT_LISTEN: `127.0.0.1:${srtPort}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(server);
    let log = '';
    server.stdout.on('data', (d) => { log += d; });
    server.stderr.on('data', (d) => { log += d; });
    let base = null;
    for (let i = 0; i < 600 && !base; i++) {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(log);
      if (m) base = m[1]; else await sleep(100);
    }
    if (!base) throw new Error(`server did not start:\n${log}`);

    fs.writeFileSync(path.join(data, 'pw'), 'bench-password\n');
    spawnSync(bin, ['user', 'add', '--role', 'teacher', '--data', data, '--password-file',
      path.join(data, 'pw'), 'bench'], { stdio: 'ignore' });
    const login = await fetch(`${base}api/login`, { method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'bench', password: 'bench-password' }) });
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const { csrf } = await login.json();
    const { key } = await (await fetch(`${base}api/live/key`, { method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': csrf } })).json();

    const playlist = `${base}live/9/720p/index.m3u8`;
    for (let i = 0; i < 600; i++) {
      if ((await fetch(playlist)).status === 200) break;
      await sleep(500);
    }

    // The viewer first (it sees the slate), then the speaker.
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required',
        '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
        '--disable-backgrounding-occluded-windows'] });
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(`${base}?channel=9`, { waitUntil: 'load' });
    await page.evaluate(`window.decodeStamp = ${decodeStamp.toString()}`);
    await page.evaluate(() => {
      window.stamps = [];  /* [Date.now (), stamp ms, video height] */
      window.unread = 0;   /* frames shown without a readable stamp (the slate, a misread) */
      const video = document.getElementById('video');
      const canvas = document.createElement('canvas');
      canvas.width = 160; canvas.height = 40;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      const look = () => {
        const t = Date.now();
        const w = video.videoWidth, h = video.videoHeight;
        if (!w) return;
        // The stamp's grid: the top 160/360 of the picture, 16 x 4 cells.
        ctx.drawImage(video, 0, 0, w, h * 160 / 360, 0, 0, 160, 40);
        const px = ctx.getImageData(0, 0, 160, 40).data;
        const ms = window.decodeStamp((i) => {
          const x0 = (i % 16) * 10 + 3, y0 = Math.floor(i / 16) * 10 + 3;
          let sum = 0;
          for (let y = y0; y < y0 + 4; y++)
            for (let x = x0; x < x0 + 4; x++) sum += px[(y * 160 + x) * 4];
          return sum / 16;
        });
        if (ms === null) { window.unread++; return; }
        window.stamps.push([t, ms, h]);
      };
      window.trace = [];  /* every 500 ms: what the player is doing */
      setInterval(() => {
        const b = video.buffered, last = window.stamps[window.stamps.length - 1];
        window.trace.push([Date.now(), video.currentTime.toFixed(2),
          b.length ? b.end(b.length - 1).toFixed(2) : '-', video.paused, video.readyState,
          window.ketangPlayer && window.ketangPlayer.state, window.stamps.length,
          last ? Date.now() - last[1] : null]);
      }, 500);
      if (video.requestVideoFrameCallback) {
        const onFrame = () => { try { look(); } catch (e) { window.unread++; } video.requestVideoFrameCallback(onFrame); };
        video.requestVideoFrameCallback(onFrame);
      } else {
        setInterval(() => { try { look(); } catch (e) { window.unread++; } }, 20);
      }
    });

    const publisher = spawn(publisherBin, [`srt://127.0.0.1:${srtPort}?streamid=bench/${key}`,
      String(SECONDS + WARMUP_S + 60)], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(publisher);
    let publisherErr = '';
    publisher.stderr.on('data', (d) => { publisherErr += d; });

    // When each live segment is first listed, until the sampling ends.
    const listed = new Map();
    let firstShown = null;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const text = await (await fetch(playlist)).text();
      for (const m of text.matchAll(/^(.*\/media\/live-[^\s]*\/720p\/(\d+)\.ts)$/gm))
        if (!listed.has(m[1])) listed.set(m[1], Date.now());
      if (firstShown === null) {
        const s = await page.evaluate(() => window.stamps.length && window.stamps[0][0]);
        if (s) firstShown = s;
        else if (Date.now() > deadline)
          throw new Error(`no stamped picture shown in 120 s; publisher: ${publisherErr}\n${log.slice(-3000)}`);
      } else if (Date.now() > firstShown + (WARMUP_S + SECONDS) * 1000) {
        break;
      }
      if (publisher.exitCode !== null)
        throw new Error(`the publisher ended early: ${publisherErr}\n${log.slice(-3000)}`);
      await sleep(100);
    }
    const { stamps, unread, state } = await page.evaluate(() => ({ stamps: window.stamps,
      unread: window.unread, state: window.ketangPlayer && window.ketangPlayer.state }));
    const from = firstShown + WARMUP_S * 1000, to = from + SECONDS * 1000;
    const window_ = stamps.filter(([t]) => t >= from && t < to);
    const latencies = window_.map(([t, ms]) => t - ms);
    const heights = [...new Set(window_.map(([, , h]) => h))].join('/');
    // Frames missing from the screen: a gap of more than 200 ms in the
    // stamps of consecutive samples shown means the picture froze.
    let frozen = 0;
    for (let i = 1; i < window_.length; i++)
      if (window_[i][0] - window_[i - 1][0] > 200) frozen += window_[i][0] - window_[i - 1][0];

    const firstAges = [], lastAges = [], closedAges = [];
    for (const [url, at] of listed) {
      if (at < from || at >= to) continue;
      const s = segmentStamps(new URL(url, playlist).href);
      if (s && s.first !== null) firstAges.push(at - s.first);
      if (s && s.last !== null) lastAges.push(at - s.last);
      // The recording's file was last written when splitmuxsink closed it.
      const m = /\/media\/([^/]+)\/720p\/(\d+)\.ts$/.exec(url);
      const file = m && path.join(data, 'media', m[1], '720p', `${m[2].padStart(5, '0')}.ts`);
      if (s && s.last !== null && file && fs.existsSync(file))
        closedAges.push(fs.statSync(file).mtimeMs - s.last);
    }
    const row = { run: index, samples: latencies.length, unread, heights, frozen, state,
      median: median(latencies), worst: worst(latencies),
      listedFirst: median(firstAges), listedFirstWorst: worst(firstAges),
      listedLast: median(lastAges), closed: median(closedAges), segments: firstAges.length };
    if (process.env.KETANG_BENCH_TRACE) {
      const trace = await page.evaluate(() => window.trace);
      for (const e of trace) console.log(`${new Date(e[0]).toISOString().slice(11, 23)} ${e.slice(1).join(' ')}`);
      console.log([...listed].map(([u, at]) => `${new Date(at).toISOString().slice(11, 23)} ${u}`).join('\n'));
    }
    if (process.env.KETANG_BENCH_TRACE)
      console.log(log.split('\n').filter((l) => /kt-live|WARN/i.test(l)).slice(-20).join('\n'));
    return row;
  } finally {
    await cleanup();
  }
}

console.log(`live latency, stamped picture read off the player's screen: ${RUNS} runs, ` +
  `${SECONDS} s of samples each after ${WARMUP_S} s of settling`);
console.log('run  samples  rendition  viewer median  viewer worst  ' +
  'listed: 1st frame age median/worst  last frame age  closed: last frame age  frozen');
const rows = [];
for (let i = 1; i <= RUNS; i++) {
  const r = await run(i);
  rows.push(r);
  console.log(`${String(i).padStart(3)}  ${String(r.samples).padStart(7)}  ${(r.heights + 'p').padStart(9)}  ` +
    `${sec(r.median).padStart(11)} s  ${sec(r.worst).padStart(10)} s  ` +
    `${sec(r.listedFirst).padStart(16)} / ${sec(r.listedFirstWorst)} s (${r.segments} segments)  ` +
    `${sec(r.listedLast).padStart(8)} s  ${sec(r.closed).padStart(8)} s  ${sec(r.frozen)} s` +
    (r.unread ? `  (${r.unread} frames without a stamp, the slate included)` : ''));
}
console.log(`all runs: median of medians ${sec(median(rows.map((r) => r.median)))} s, ` +
  `worst ${sec(worst(rows.map((r) => r.worst)))} s`);
