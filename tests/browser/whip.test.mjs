#!/usr/bin/env node
// Browser test: a teacher goes live from the live page's camera over WHIP
// (TAP output).
//
// Usage:  node tests/browser/whip.test.mjs <path-to-ketang-binary>
//
// The real server, with a live talk on channel 9 that began a minute ago
// (the timetable is written around the real clock, which the server and
// its live slots follow). The teacher logs in and opens /teach/live.html
// in Debian's Chromium with a fake camera and microphone
// (--use-fake-device-for-media-stream: a moving test picture and a beep)
// and permission granted (--use-fake-ui-for-media-stream); picks the
// camera, presses 开始直播, and the page says 直播中. Then the server side:
// the talk is live with the teacher as publisher, and channel 9's 720p
// playlist lists segments of the talk's recording (the house ladder's
// output from the browser's stream), in the house format as ffprobe reads
// it. 结束直播 sends the DELETE: the page says 已结束, the talk is
// "dropped", and the channel goes back to a slate. 开始直播 again airs
// into the same recording; then the page is closed without a DELETE, and
// the server notices the publisher is gone: dropped, and the slate.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { icsTime, launchChromium, startServer, tap, until } from './lib.mjs';

const bin = process.argv[2] || process.env.KETANG_BIN;
const PASSWORD = 'whip-page-pw';
const T = tap();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-whip-'));
const schedules = path.join(tmp, 'schedules');
fs.mkdirSync(schedules, { recursive: true });

// A talk from a minute ago to twenty minutes on, on channel 9.
const now = Date.now();
const start = Math.floor(now / 60_000) * 60_000 - 60_000;
fs.writeFileSync(path.join(schedules, '9.ics'), [
  'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', 'X-WR-CALNAME:报告会频道',
  'X-KETANG-CHANNEL:9', 'BEGIN:VEVENT', 'UID:whip-talk', 'SUMMARY:网上直播讲座',
  'ORGANIZER;CN=李教授:mailto:l@x', `DTSTART:${icsTime(start)}`,
  `DTEND:${icsTime(start + 20 * 60_000)}`, 'X-KETANG-SOURCE:live:baogao', 'END:VEVENT',
  'END:VCALENDAR', ''].join('\r\n'));

let server = null;
let browser = null;
async function cleanup () {
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}

async function newest (base) {
  const r = await fetch(`${base}/live/9/720p/index.m3u8`);
  if (!r.ok) return null;
  const lines = (await r.text()).split('\n').filter((l) => l && !l.startsWith('#'));
  return lines.length ? lines[lines.length - 1] : null;
}

let failed = false;
try {
  // No SRT listener: this talk comes over WHIP only.
  server = await startServer(bin, { KETANG_SERVER_SCHEDULES_DIR: schedules,
    KETANG_LIVE_SRT_LISTEN: '', G_MESSAGES_DEBUG: 'kt-live' }, 'ketang-whip-data-',
  { demo: false, users: [['li', 'teacher', PASSWORD]] });
  const base = server.base.replace(/\/$/, '');
  // The waiting slate airs first ("报告会即将开始").
  const waiting = await until('channel 9 to air', () => newest(base), 90_000);
  T.ok(waiting.startsWith('/media/slate-'), 'before the speaker comes, channel 9 airs a slate', waiting);

  browser = await launchChromium(['--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream']);
  const context = await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') T.diag(`console: ${m.text()}`); });
  await page.goto(`${base}/login.html?next=${encodeURIComponent('/teach/live.html?talk=baogao')}`);
  await page.fill('#name', 'li');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(/\/teach\/live\.html/), page.click('#submit')]);
  await page.waitForFunction(() => document.getElementById('whip-state').textContent === '还没有开始直播',
    null, { timeout: 20_000 });

  await page.click('#check-camera');
  await page.waitForFunction(() => {
    const v = document.getElementById('preview');
    return v.srcObject && v.videoWidth > 0 && document.getElementById('camera').options.length > 0;
  }, null, { timeout: 20_000 });
  const cameras = await page.$$eval('#camera option', (os) => os.map((o) => o.textContent));
  T.ok(cameras.length > 0 && await page.isVisible('#preview'),
    'the camera list is filled and the preview shows the camera', cameras.join(', '));

  await page.click('#go-live');
  const states = [];
  await page.waitForFunction(() => document.getElementById('whip-state').getAttribute('data-state') !== 'idle',
    null, { timeout: 5_000 });
  states.push(await page.textContent('#whip-state'));
  await page.waitForFunction(() => {
    const s = document.getElementById('whip-state').getAttribute('data-state');
    return s === 'live' || s === 'error';
  }, null, { timeout: 40_000 });
  states.push(await page.textContent('#whip-state'));
  const problem = await page.textContent('#whip-message');
  T.ok(states[0] === '连接中…' && states[1] === '直播中' && await page.isVisible('#end-live'),
    '开始直播: the page says 连接中, then 直播中, and offers 结束直播',
    `${states.join(' → ')} ${problem}`);

  // The server: the talk is live, published by the teacher.
  const talks = await page.evaluate(async () => (await fetch('/api/live/talks')).json());
  const talk = talks.talks.find((x) => x.input === 'baogao');
  T.ok(talk && talk.publisher === 'li', 'the server has li as the talk\'s publisher',
    JSON.stringify(talks.talks));

  // The channel goes on air with the browser's stream, in the house format.
  let onAir = null;
  try {
    onAir = await until('a live segment in the playlist', async () => {
      const uri = await newest(base);
      return uri && uri.startsWith('/media/live-') ? uri : null;
    }, 60_000);
  } catch (e) { /* reported below */ }
  T.ok(onAir !== null, 'channel 9\'s 720p playlist lists segments of the live recording', onAir);
  if (onAir) {
    const seg = Buffer.from(await (await fetch(`${base}${onAir}`)).arrayBuffer());
    const file = path.join(tmp, 'live.ts');
    fs.writeFileSync(file, seg);
    // ffprobe, an independent reader: the house format, whatever the
    // camera sent (Chromium's fake camera is 640x480 at 30 fps).
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries',
      'stream=codec_name,width,height,sample_rate', '-of', 'json', file], { encoding: 'utf8' });
    const streams = probe.status === 0 ? JSON.parse(probe.stdout).streams : [];
    const video = streams.find((x) => x.codec_name === 'h264');
    const audio = streams.find((x) => x.codec_name === 'aac');
    T.ok(video && video.width === 1280 && video.height === 720 && audio &&
      audio.sample_rate === '48000',
    'a live segment is the house format: H.264 1280x720 and AAC 48 kHz',
    `${seg.length} bytes: ${probe.stdout} ${probe.stderr}`);
    const after = await page.evaluate(async () => (await fetch('/api/live/talks')).json());
    const t2 = after.talks.find((x) => x.input === 'baogao');
    T.ok(t2 && t2.state === 'live' && t2.segments > 0,
      'the talk is live and being recorded', JSON.stringify(t2));
  }

  // 结束直播: DELETE; the talk drops and the channel goes back to a slate.
  await page.click('#end-live');
  await page.waitForFunction(() => document.getElementById('whip-state').getAttribute('data-state') === 'ended',
    null, { timeout: 10_000 });
  T.ok(await page.textContent('#whip-state') === '已结束' && await page.isVisible('#go-live'),
    '结束直播: the page says 已结束 and offers 开始直播 again');
  const dropped = await until('the talk to drop', async () => {
    const r = await page.evaluate(async () => (await fetch('/api/live/talks')).json());
    const x = r.talks.find((y) => y.input === 'baogao');
    return x && x.state === 'dropped' ? x : null;
  }, 10_000).catch(() => null);
  T.ok(dropped !== null, 'the server ended the publish: the talk is "dropped"');
  const slate = await until('a slate after the talk', async () => {
    const uri = await newest(base);
    return uri && uri.startsWith('/media/slate-') ? uri : null;
  }, 20_000).catch(() => null);
  T.ok(slate !== null, 'the channel airs a slate again');

  // Live again, then the page simply goes away (no DELETE): the server
  // notices the silence, the talk drops and the slate airs again.
  await page.click('#go-live');
  await page.waitForFunction(() => document.getElementById('whip-state').getAttribute('data-state') === 'live',
    null, { timeout: 40_000 });
  const again = await until('the talk live again', async () => {
    const uri = await newest(base);
    return uri && uri.startsWith('/media/live-') ? uri : null;
  }, 60_000).catch(() => null);
  T.ok(again !== null && onAir !== null && again.split('/')[2] === onAir.split('/')[2],
    'a second 开始直播 airs the talk again, into the same recording', `${onAir} ${again}`);
  const gone = Date.now();
  await page.close();
  const other = await context.newPage();
  await other.goto(`${base}/healthz`);
  const vanished = await until('the talk to drop without a DELETE', async () => {
    const r = await other.evaluate(async () => (await fetch('/api/live/talks')).json());
    const x = r.talks.find((y) => y.input === 'baogao');
    const uri = await newest(base);
    return x && x.state === 'dropped' && uri && uri.startsWith('/media/slate-') ? x : null;
  }, 40_000).catch(() => null);
  T.ok(vanished !== null, 'a publisher that vanishes without DELETE is dropped, and the slate airs',
    `${(Date.now() - gone) / 1000} s`);
} catch (err) {
  failed = true;
  T.ok(false, 'the WHIP page works', err && err.stack ? err.stack : String(err));
}
const status = T.end();
if (status || failed || process.env.WHIP_TEST_LOG) {
  T.diag((server ? server.log : []).filter((l) => /kt-live|kt-channel|kt-timetable|WARN|CRIT|rror/.test(l)).join('\n'));
}
await cleanup();
process.exit(status);
