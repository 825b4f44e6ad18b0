#!/usr/bin/env node
// Latency of a live talk, from the publisher to a viewer's screen: run on
// purpose, not by the test suite.
//
//   node bench/live-latency.mjs [FLASHES]        (default 8; about 12 s each)
//
// What it measures. A fresh `ketang serve` airs a live talk on channel 9.
// ffmpeg publishes over SRT, as OBS would, a black 640x360 picture that
// turns white for 3 s every 12 s of stream time (-re: stream time runs with
// the wall clock, from the moment the server admitted the publisher, which
// this script sees in the server's log). Headless Chromium plays channel 9
// with the real player page (web/, hls.js with its own settings) and looks
// at the picture every 20 ms (a canvas of 8x8 pixels): the wall-clock instant a white frame first shows, minus the
// instant that white was published, is the latency of that flash. Both
// clocks are this machine's. The publisher's start is known to within
// ffmpeg's start-up (tens of ms), which adds to every figure.
//
// Environment: KETANG_BIN (default build/src/ketang), CHROMIUM (default
// /usr/bin/chromium).
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const bin = process.env.KETANG_BIN || path.join(root, 'build/src/ketang');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const flashes = Number(process.argv[2] || 8);
const PERIOD_S = 12, WHITE_FROM_S = 3, WHITE_TO_S = 6;

function freeUdpPort () {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function icsTime (ms) {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

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
async function cleanup () {
  if (browser) await browser.close().catch(() => {});
  for (const c of children) c.kill('SIGTERM');
  await sleep(300);
  fs.rmSync(data, { recursive: true, force: true });
}
process.on('SIGINT', async () => { await cleanup(); process.exit(130); });

const server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', data], {
  env: { ...process.env, KETANG_SERVER_SCHEDULES_DIR: path.join(data, 'schedules'),
    KETANG_LIVE_SRT_LISTEN: `127.0.0.1:${srtPort}` },
  stdio: ['ignore', 'pipe', 'pipe'],
});
children.push(server);
let base = null;
let admittedAt = null;
let log = '';
const onLog = (chunk) => {
  const text = chunk.toString();
  log += text;
  const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(log);
  if (m && !base) base = m[1];
  if (/publisher admitted/.test(text) && admittedAt === null) admittedAt = Date.now();
};
server.stdout.on('data', onLog);
server.stderr.on('data', onLog);
for (let i = 0; i < 200 && !base; i++) await sleep(100);
if (!base) { console.error(log); await cleanup(); throw new Error('server did not start'); }

// A teacher and their publish key, as the teaching page gets it.
fs.writeFileSync(path.join(data, 'pw'), 'bench-password\n');
spawnSync(bin, ['user', 'add', '--role', 'teacher', '--data', data, '--password-file',
  path.join(data, 'pw'), 'bench'], { stdio: 'ignore' });
const login = await fetch(`${base}api/login`, { method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ name: 'bench', password: 'bench-password' }) });
const cookie = login.headers.get('set-cookie').split(';')[0];
const { csrf } = await login.json();
const keyAnswer = await fetch(`${base}api/live/key`, { method: 'POST',
  headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
const { key } = await keyAnswer.json();

// The channel airs its "报告会即将开始" slate once the slates are made.
for (let i = 0; i < 600; i++) {
  const r = await fetch(`${base}live/9/720p/index.m3u8`);
  if (r.status === 200) break;
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
await page.evaluate(() => {
  window.flashes = [];
  window.trace = []; /* [time, mean luma or -1 while there is no picture, currentTime or state] */
  const video = document.getElementById('video');
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 8;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let white = false;
  const look = () => {
    if (video.videoWidth === 0) {
      window.trace.push([Date.now(), -1, JSON.stringify(window.ketangPlayer && window.ketangPlayer.state)]);
      return;
    }
    ctx.drawImage(video, 0, 0, 8, 8);
    const px = ctx.getImageData(0, 0, 8, 8).data;
    let sum = 0;
    for (let i = 0; i < px.length; i += 4) sum += px[i];
    const luma = sum / (px.length / 4);
    if (!white && luma > 200) window.flashes.push(Date.now());
    white = luma > 200 ? true : luma < 60 ? false : white;
    window.trace.push([Date.now(), Math.round(luma), video.currentTime.toFixed(2)]);
  };
  setInterval(() => {
    try { look (); } catch (e) { if (window.trace.length < 5000) window.trace.push([Date.now(), -2, String(e)]); }
  }, 20);
});

await page.waitForFunction(() => document.getElementById('video').currentTime > 1,
  null, { timeout: 120_000, polling: 250 });
const seconds = flashes * PERIOD_S + 25;
const publisher = spawn('ffmpeg', ['-loglevel', 'error', '-re', '-f', 'lavfi', '-i',
  `color=c=black:s=640x360:r=25,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:` +
  `enable='between(mod(t\\,${PERIOD_S})\\,${WHITE_FROM_S}\\,${WHITE_TO_S})'`,
  '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds),
  '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac',
  '-f', 'mpegts', `srt://127.0.0.1:${srtPort}?streamid=bench/${key}&latency=200000`],
{ stdio: 'ignore' });
children.push(publisher);
let published = false;
publisher.on('exit', () => { published = true; });
// Server side: when each live segment is first listed in the playlist.
const listed = new Map();
while (!published) {
  const text = await (await fetch(`${base}live/9/720p/index.m3u8`)).text();
  for (const m of text.matchAll(/\/media\/live-[^/]+\/720p\/(\d+)\.ts/g))
    if (!listed.has(Number(m[1]))) listed.set(Number(m[1]), Date.now());
  await sleep(50);
}
const seen = await page.evaluate(() => window.flashes);
if (process.env.KETANG_BENCH_TRACE)
  console.log(await (await fetch(`${base}live/9/720p/index.m3u8`)).text());
if (process.env.KETANG_BENCH_TRACE) {
  const trace = await page.evaluate(() => window.trace);
  console.log(`trace entries ${trace.length}`);
  console.log(JSON.stringify(await page.evaluate(() => window.ketangPlayer && window.ketangPlayer.errors)));
  for (let i = 0; i < trace.length; i += 25) console.log(((trace[i][0] - admittedAt) / 1000).toFixed(2), trace[i][1], trace[i][2]);
  console.log(log.split('\n').filter((l) => /kt-live|WARN|error/i.test(l)).slice(-15).join('\n'));
}
await cleanup();

if (admittedAt === null) throw new Error('the publisher was never admitted');
// Segment n holds stream time [2n, 2n+2): its first frame was published at
// admittedAt + 2n; it can be fetched from the moment it is listed.
const ages = [...listed].map(([n, t]) => (t - admittedAt) / 1000 - 2 * n).sort((a, b) => a - b);
if (ages.length)
  console.log(`segments listed: ${ages.length}; oldest frame's age when listed: median ` +
    `${ages[Math.floor((ages.length - 1) / 2)].toFixed(2)} s, worst ${ages[ages.length - 1].toFixed(2)} s`);
const latencies = [];
for (const t of seen) {
  const streamTime = (t - admittedAt) / 1000;
  const k = Math.floor((streamTime - WHITE_FROM_S) / PERIOD_S);
  if (k < 0) continue;
  latencies.push(streamTime - (k * PERIOD_S + WHITE_FROM_S));
}
// The first flash may land while the player is still finding the live edge.
const steady = latencies.slice(1);
steady.sort((a, b) => a - b);
const median = steady.length ? steady[Math.floor((steady.length - 1) / 2)] : NaN;
console.log(`flashes seen: ${latencies.length} of ${flashes}; latencies (s): ${latencies.map((x) => x.toFixed(2)).join(' ')}`);
console.log(`steady state (first dropped): median ${median.toFixed(2)} s, worst ${steady.length ? steady[steady.length - 1].toFixed(2) : 'n/a'} s`);
