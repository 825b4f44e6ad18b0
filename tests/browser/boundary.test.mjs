// Browser test of a channel crossing lesson → slate → lesson in real time.
//
// The timetable is compressed, not the clock: the test writes a schedule
// file whose lessons start a few seconds from now and last 12 s (the demo
// lesson, rendered at 12 s), with a 12 s gap between them where the slate
// airs. The server picks the file up by itself (it watches the folder). The
// player, in headless Chromium (Debian's chromium, driven by
// playwright-core), must keep currentTime advancing through both
// boundaries with no player error, and its on-screen title must go from the
// first lesson to the second, and today's guide must mark each as it airs.
//
//   node tests/browser/boundary.test.mjs <path-to-ketang>
//
// TAP on stdout; exit status 1 on any failure.
//
// This test found why pictures froze at lesson changes: hls.js walks an
// array as long as the discontinuity sequence number at every playlist
// load, and that number used to count from 1970 (see kt-channel.c).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { icsTime, json, launchChromium, sleep, startServer, tap, until } from './lib.mjs';

const bin = process.argv[2] || process.env.KETANG_BIN;
const { ok, diag, end } = tap();
let server = null;
let browser = null;
const schedules = fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-boundary-schedules-'));

try {
  server = await startServer(bin, { KETANG_DEMO_SECONDS: '12', KETANG_SERVER_SCHEDULES_DIR: schedules },
    'ketang-boundary-');
  const base = server.base;
  ok(true, 'server starts');

  const demo = await until('the demo lesson', async () => {
    const c = await json(`${base}api/channels/1`);
    return c && c.state === 'on-air' && c.now && c.now.source;
  }, 120_000);
  const item = demo.replace(/^item:/, '');

  // Lessons on 10 s boundaries from ~20 s ahead: A [T, T+12), slate, B [T+24, T+36).
  const T = Math.ceil((Date.now() + 20_000) / 10_000) * 10_000;
  const event = (uid, title, start, end) => [
    'BEGIN:VEVENT', `UID:${uid}`, `SUMMARY:${title}`, 'ORGANIZER;CN=王老师:mailto:w@example',
    `DTSTART:${icsTime(start)}`, `DTEND:${icsTime(end)}`, `X-KETANG-SOURCE:item:${item}`,
    'END:VEVENT'].join('\r\n');
  fs.writeFileSync(path.join(schedules, '9.ics'), [
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//ketang//test//ZH', 'X-WR-CALNAME:边界测试频道',
    'X-KETANG-CHANNEL:9', event('a', '第一节：八段锦', T, T + 12_000),
    event('b', '第二节：太极拳', T + 24_000, T + 36_000), 'END:VCALENDAR', ''].join('\r\n'));

  await until('channel 9 on air', async () => {
    const c = await json(`${base}api/channels/9`);
    return c && c.state === 'on-air';
  }, 60_000);
  ok(true, 'the schedule file is picked up and channel 9 airs');

  // The slates for the gaps are rendered now; let that finish first, so the
  // browser is measured against the channel, not against the encoder.
  let idle = 0;
  await until('the slates to be made', async () => {
    const text = await (await fetch(`${base}metrics`)).text();
    idle = /ketang_normalization_jobs\{state="running"\} 0\b/.test(text) ? idle + 1 : 0;
    return idle >= 4;
  }, 90_000);

  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 960, height: 600 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${base}?channel=9`);
  // The guide is fetched after the page loads; on a loaded machine that can
  // take a moment, and a sample taken before it arrives says nothing about it.
  await until("today's guide", () => page.evaluate(
    () => document.querySelectorAll('#guide-list li').length > 0), 15_000);

  // Sample currentTime and the title from before A until after B starts.
  const samples = [];
  const stopAt = T + 36_000 + 8_000;
  while (Date.now() < stopAt) {
    samples.push(await page.evaluate(() => ({
      guide: Array.from(document.querySelectorAll('#guide-list li'))
        .map((li) => (li.getAttribute('aria-current') === 'true' ? '*' : '') + li.textContent),
      t: Date.now(),
      current: document.querySelector('video') ? document.querySelector('video').currentTime : 0,
      title: (document.getElementById('now-title') || {}).textContent || '',
      errors: (window.ketangPlayer && window.ketangPlayer.errors) || [],
    })));
    await sleep(500);
  }
  const titles = samples.map((s) => s.title).filter((v, i, a) => i === 0 || v !== a[i - 1]);
  diag(`titles in order: ${JSON.stringify(titles)}`);
  const first = titles.indexOf('第一节：八段锦');
  const second = titles.indexOf('第二节：太极拳');
  ok(first >= 0 && second > first, 'the title goes from the first lesson to the second',
    JSON.stringify(titles));

  // Today's guide lists both lessons and marks the one on air as it changes.
  const guides = samples.map((s) => s.guide.join(' | ')).filter((v, i, a) => i === 0 || v !== a[i - 1]);
  diag(`guides in order: ${JSON.stringify(guides)}`);
  const hm = (ms) => new Date(ms).toLocaleTimeString('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit' });
  const lineA = `${hm(T)}第一节：八段锦王老师`;
  const lineB = `${hm(T + 24_000)}第二节：太极拳王老师`;
  const marks = (g) => g.indexOf(`*${lineA}正在播放`) >= 0 ? 'A' : g.indexOf(`*${lineB}正在播放`) >= 0 ? 'B' : '-';
  ok(guides.every((g) => g.includes(lineA) && g.includes(lineB)), "today's guide lists both lessons",
    JSON.stringify(guides));
  const order = guides.map(marks).filter((v, i, a) => i === 0 || v !== a[i - 1]).join('');
  ok(/A.*B/.test(order), 'the guide marks the first lesson on air, then the second', order);

  // currentTime keeps advancing: across the window from the start of A to
  // past the start of B, it moved on by most of the wall time.
  const from = samples.find((s) => s.t >= T);
  const to = samples[samples.length - 1];
  const advanced = to.current - from.current;
  const wall = (to.t - from.t) / 1000;
  diag(`currentTime ${from.current.toFixed(2)} -> ${to.current.toFixed(2)} over ${wall.toFixed(1)} s`);
  ok(advanced >= wall - 6, 'currentTime keeps advancing through lesson → slate → lesson',
    `advanced ${advanced.toFixed(2)} s in ${wall.toFixed(1)} s`);
  let longestFreeze = 0;
  for (let i = 1, since = samples[0]; i < samples.length; i++) {
    if (samples[i].current > since.current + 0.05) since = samples[i];
    else longestFreeze = Math.max(longestFreeze, samples[i].t - since.t);
  }
  diag(`longest freeze ${longestFreeze} ms`);
  ok(longestFreeze < 4000, 'no freeze of 4 s or more', `${longestFreeze} ms`);
  ok(to.errors.length === 0 && pageErrors.length === 0, 'no player or page error',
    JSON.stringify({ player: to.errors, page: pageErrors }));
} catch (e) {
  ok(false, 'test ran to the end', e.stack || String(e));
  if (server) diag(server.log.slice(-30).join('\n'));
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
  fs.rmSync(schedules, { recursive: true, force: true });
  process.exit(end());
}
