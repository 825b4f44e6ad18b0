// Browser test of replay (回看): /watch/<item> in headless Chromium.
//
// The demo lesson is a library item. Its replay page must show its title
// and teacher, its poster picture, play it as video on demand of its whole
// length, and seek: the big "前进 30 秒" button moves playback on by 30 s
// and it keeps playing from there. A stale link says so in words.
//
//   node tests/browser/watch.test.mjs <path-to-ketang>
//
// TAP on stdout; exit status 1 on any failure.

import { json, launchChromium, sleep, startServer, tap, until } from './lib.mjs';

const t = tap();
const bin = process.argv[2] || process.env.KETANG_BIN;
let server = null;
let browser = null;

try {
  server = await startServer(bin, { KETANG_DEMO_SECONDS: '60' }, 'ketang-watch-');
  const base = server.base;
  const source = await until('the demo lesson', async () => {
    const c = await json(`${base}api/channels/1`);
    return c && c.state === 'on-air' && c.now && c.now.source;
  }, 120_000);
  const id = source.replace(/^item:/, '');

  // The poster is made in the background once someone asks for the item.
  const item = await until('the poster', async () => {
    const i = await json(`${base}api/items/${id}`);
    return i && i.thumbnail && i;
  }, 60_000);
  t.ok(item.thumbnail === `/watch/${id}/poster.jpg`, 'the item has a poster', item.thumbnail);
  const poster = await fetch(new URL(item.thumbnail, base));
  t.ok(poster.status === 200 && poster.headers.get('content-type') === 'image/jpeg',
    'the poster is served as a JPEG', `${poster.status} ${poster.headers.get('content-type')}`);

  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${base}watch/${id}`);
  await until('the title', () => page.evaluate(() => document.getElementById('now-title').textContent
    !== '正在加载…'), 20_000);
  const shown = await page.evaluate(() => ({
    title: document.getElementById('now-title').textContent,
    meta: document.getElementById('now-meta').textContent,
    poster: document.getElementById('video').getAttribute('poster'),
  }));
  t.ok(shown.title === item.title, 'the page shows the lesson title', JSON.stringify(shown));
  t.ok(shown.meta.includes(item.teacher) && shown.meta.includes('1 分钟'),
    'the page shows the teacher and the length', shown.meta);
  t.ok(shown.poster === item.thumbnail, 'the video shows the poster before playing', shown.poster);

  await page.evaluate(() => { document.getElementById('video').muted = true; });
  await page.click('#play');
  await until('playback', () => page.evaluate(() => document.getElementById('video').currentTime > 1),
    30_000);
  const duration = await page.evaluate(() => document.getElementById('video').duration);
  t.ok(Math.abs(duration - 60) < 1, 'the whole lesson is on demand (60 s)', duration);

  const before = await page.evaluate(() => document.getElementById('video').currentTime);
  await page.click('#forward');
  await sleep(300);
  const jumped = await page.evaluate(() => document.getElementById('video').currentTime);
  t.ok(jumped >= before + 29, '前进 30 秒 seeks 30 s on', `${before} -> ${jumped}`);
  const resumed = await until('playing after the seek', () => page.evaluate((from) => {
    const v = document.getElementById('video');
    return v.currentTime > from + 1 && !v.paused;
  }, jumped), 30_000).catch(() => false);
  t.ok(resumed, 'playback goes on from there');

  await page.click('#lang-toggle');
  const english = await page.evaluate(() => document.getElementById('play').textContent);
  t.ok(english === 'Pause', 'English is available', english);

  const missing = await browser.newPage();
  missing.on('pageerror', (e) => pageErrors.push(String(e)));
  await missing.goto(`${base}watch/no-such-lesson`);
  const said = await until('the not-found notice', () => missing.evaluate(() => {
    const s = document.getElementById('status');
    return !s.classList.contains('hidden') && s.textContent;
  }), 20_000).catch(() => '');
  t.ok(said === '没有找到这节课。', 'an unknown lesson says so in words', said);
  t.ok(pageErrors.length === 0, 'no page errors', pageErrors.join('\n'));
} catch (e) {
  t.ok(false, 'test ran to the end', e.stack || String(e));
  if (server) t.diag(server.log.slice(-30).join('\n'));
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
  process.exit(t.end());
}
