#!/usr/bin/env node
// Browser test for the teachers' pages under /teach/ (TAP output).
//
// Usage:  node tests/browser/teach.test.mjs <path-to-ketang-binary>
//
// Adds a teacher with `ketang user add`, starts `ketang serve` on a free
// loopback port (temp data dir, empty temp schedules dir), makes a small
// real MP4 with GStreamer, and drives Debian's Chromium (playwright-core):
//   - an anonymous visit to /teach/ ends on the login page;
//   - logging in through /login.html?next=/teach/ lands on the home page;
//   - upload.html sends the MP4 in 64 KiB chunks (?chunk=65536) and the
//     progress bar moves to its max; a dropped chunk is retried; a reload in
//     the middle resumes from the server's offset when the file is re-picked;
//   - the lecture then appears in the /teach/ list;
//   - the lecture list, edit, delete-with-timetable and the schedule form,
//     against the documented API answers (routed in the browser, so that
//     states the server cannot produce on demand are covered);
//   - a 390 px phone viewport keeps big type and big buttons;
//   - English via ?lang=en; logging out; no script errors.
//
// Environment:
//   CHROMIUM                 browser binary (default /usr/bin/chromium)
//   KETANG_SCREENSHOT_DIR    where screenshots go (default: a new temp dir, kept and printed)
//   KETANG_TEST_VERBOSE=1    echo the server's log as TAP comments

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const bin = process.argv[2] || process.env.KETANG_BIN;
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const verbose = process.env.KETANG_TEST_VERBOSE === '1';
const PASSWORD = 'teach-page-pw';
const OVERALL_TIMEOUT_MS = 110_000;

let n = 0;
let failures = 0;

function diag(text) {
  for (const line of String(text).split('\n')) console.log(`# ${line}`);
}

let page = null;

class Skip extends Error {}

async function check(name, fn) {
  n += 1;
  try {
    await fn();
    console.log(`ok ${n} - ${name}`);
  } catch (err) {
    if (err instanceof Skip) {
      console.log(`ok ${n} - ${name} # SKIP ${err.message}`);
      if (page) await page.unrouteAll({ behavior: 'ignoreErrors' });
      return;
    }
    failures += 1;
    console.log(`not ok ${n} - ${name}`);
    diag(err && err.stack ? err.stack : err);
  }
  // Routed answers belong to one check only.
  if (page) await page.unrouteAll({ behavior: 'ignoreErrors' });
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// ---------------------------------------------------------------------------
// Setup: data, account, media, server, browser. Everything is removed at exit.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-teach-'));
const dataDir = path.join(tmp, 'data');
const schedulesDir = path.join(tmp, 'schedules');
const mediaDir = path.join(tmp, 'media');
fs.mkdirSync(dataDir);
fs.mkdirSync(schedulesDir);
fs.mkdirSync(mediaDir);
const shotDir = process.env.KETANG_SCREENSHOT_DIR ||
  fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-teach-shots-'));
fs.mkdirSync(shotDir, { recursive: true });

let server = null;
let browser = null;

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.on('exit', resolve));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

function bail(message) {
  console.log(`Bail out! ${message}`);
  return cleanup().then(() => process.exit(1));
}

const watchdog = setTimeout(() => {
  bail(`the test took longer than ${OVERALL_TIMEOUT_MS / 1000} s`);
}, OVERALL_TIMEOUT_MS);
watchdog.unref();

if (!bin || !fs.existsSync(bin)) await bail(`ketang binary not found: ${bin}`);
if (!fs.existsSync(chromiumPath)) await bail(`Chromium not found at ${chromiumPath}`);

const added = spawnSync(bin, ['user', 'add', '--role', 'teacher', '--display-name', '王老师',
  '--data', dataDir, 'wang'], { input: `${PASSWORD}\n`, encoding: 'utf8' });
if (added.status !== 0) await bail(`ketang user add failed: ${added.stderr}`);

// A small real MP4 (4 s, 320x240 H.264 + AAC, ~700 KB).
const mp4 = path.join(mediaDir, 'lecture.mp4');
const gst = spawnSync('gst-launch-1.0', ['-q',
  'videotestsrc', 'num-buffers=100', '!', 'video/x-raw,width=320,height=240,framerate=25/1', '!',
  'x264enc', '!', 'mp4mux', 'name=m', '!', 'filesink', `location=${mp4}`,
  'audiotestsrc', 'num-buffers=200', '!', 'audioconvert', '!', 'avenc_aac', '!', 'm.'],
{ encoding: 'utf8' });
if (gst.status !== 0 || !fs.existsSync(mp4) || fs.statSync(mp4).size < 50_000) {
  await bail(`could not make a test MP4 with gst-launch-1.0: ${gst.stderr || gst.error}`);
}
const mp4Size = fs.statSync(mp4).size;
// Copies under other names: each upload is keyed by name, size and date.
const retryMp4 = path.join(mediaDir, 'retry.mp4');
const reloadMp4 = path.join(mediaDir, 'reload.mp4');
fs.copyFileSync(mp4, retryMp4);
fs.copyFileSync(mp4, reloadMp4);

server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', dataDir], {
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, KETANG_SERVER_SCHEDULES_DIR: schedulesDir },
});
server.stderr.setEncoding('utf8');
server.stderr.on('data', (chunk) => { if (verbose) diag(chunk.trimEnd()); });
let base;
try {
  base = await new Promise((resolve, reject) => {
    let buf = '';
    server.stdout.setEncoding('utf8');
    server.stdout.on('data', (chunk) => {
      buf += chunk;
      const m = /listening on (http:\/\/\S+?)\/?\s/.exec(buf);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`server exited (${code})`)));
    setTimeout(() => reject(new Error('server did not start')), 30_000);
  });
} catch (err) {
  await bail(String(err));
}

const { chromium } = await import('playwright-core');
browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (err) => pageErrors.push(String(err)));

async function shot(p, name) {
  const file = path.join(shotDir, name);
  await p.screenshot({ path: file, fullPage: true });
  return file;
}

// The real CSRF token, for routed answers that imitate the server.
async function me(p) {
  return JSON.parse(await (await p.request.get(`${base}/api/me`)).text());
}

const LIBRARY = /\/api\/library(\/|\?|$)/;

function json(route, status, body, headers = {}) {
  return route.fulfill({ status, contentType: 'application/json; charset=utf-8', headers,
    body: body === null ? '' : JSON.stringify(body) });
}

console.log('1..17');

// ---------------------------------------------------------------------------

await check('an anonymous visit to /teach/ ends on the login page', async () => {
  await page.goto(`${base}/teach/`);
  await page.waitForURL(/\/login\.html\?next=/, { timeout: 10_000 });
  const next = new URL(page.url()).searchParams.get('next');
  assert(next === '/teach/', `next=${next}`);
});

await check('logging in through /login.html?next=/teach/ lands on the greeting', async () => {
  await page.goto(`${base}/login.html?next=/teach/`);
  await page.fill('#name', 'wang');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${base}/teach/`), page.click('#submit')]);
  await page.waitForFunction(() => document.getElementById('greeting').textContent.length > 0);
  const greeting = await page.textContent('#greeting');
  assert(greeting.includes('王老师'), `greeting "${greeting}"`);
  assert(await page.isVisible('#upload-link'), 'no 上传讲座 button');
  assert((await page.textContent('#upload-link')).trim() === '上传讲座', 'upload button label');
});

await check('upload.html sends the MP4 in chunks and the progress bar reaches its max', async () => {
  const patches = [];
  // A little latency per chunk, as on a county network, so the bar is seen moving.
  await page.route('**/api/uploads/*', async (route) => {
    const req = route.request();
    if (req.method() === 'PATCH') {
      patches.push({ offset: Number(req.headers()['upload-offset']), size: req.postDataBuffer()?.length,
        type: req.headers()['content-type'], csrf: req.headers()['x-csrf-token'] });
      await new Promise((r) => setTimeout(r, 60));
    }
    await route.continue();
  });
  await page.goto(`${base}/teach/upload.html?chunk=65536`);
  await page.waitForFunction(() => !document.getElementById('start').disabled);
  await page.setInputFiles('#file', mp4);
  assert((await page.inputValue('#title')) === 'lecture', 'the title defaults to the file name');
  await page.fill('#title', '书法入门 第一讲');
  await page.evaluate(() => {
    const bar = document.getElementById('upload-progress');
    window.__samples = [];
    const tick = () => {
      window.__samples.push([bar.value, bar.max, document.getElementById('progress-text').textContent]);
      if (bar.value < bar.max) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.click('#start');
  await page.waitForFunction(() => {
    const bar = document.getElementById('upload-progress');
    return bar.value >= bar.max;
  }, null, { timeout: 30_000 });
  await page.waitForSelector('#result:not(.hidden)', { timeout: 15_000 });
  const result = await page.textContent('#result');
  assert(result.includes('上传完成'), `result "${result}"`);
  assert(await page.isVisible('#done-link'), 'no link back to /teach/');
  const samples = await page.evaluate(() => window.__samples);
  const middle = new Set(samples.filter(([v, max]) => v > 0 && v < max).map(([v]) => Math.round(v)));
  assert(middle.size >= 3, `the bar did not move gradually: ${JSON.stringify([...middle])}`);
  const texts = samples.map((s) => s[2]).filter((s) => /^已上传 \S+ \S+ \/ \S+ \S+/.test(s));
  assert(texts.length > 0, `no "已上传 x / y" text: ${JSON.stringify(samples.slice(-3))}`);
  const final = await page.textContent('#progress-text');
  assert(final.includes('100%'), `final text "${final}"`);
  const expected = Math.ceil(mp4Size / 65536);
  assert(patches.length === expected, `${patches.length} PATCHes, expected ${expected}`);
  assert(patches.every((p, i) => p.offset === i * 65536), 'offsets not consecutive');
  assert(patches.every((p) => p.type === 'application/offset+octet-stream' && p.csrf),
    'PATCH without the offset+octet-stream type or the CSRF header');
  const list = JSON.parse(await (await page.request.get(`${base}/api/uploads`)).text());
  const up = list.uploads.find((u) => u.filename === 'lecture.mp4');
  assert(up && up.offset === mp4Size && up.title === '书法入门 第一讲' && up.state !== 'receiving',
    `server has ${JSON.stringify(up)}`);
  diag(`uploaded ${mp4Size} bytes in ${patches.length} chunks; server: ${JSON.stringify({ state: up.state, item: up.item, error: up.error })}`);
  await shot(page, 'upload-done.png');
});

await check('a dropped chunk is retried: "网络中断，正在重试…", then the upload completes', async () => {
  let patchNo = 0;
  let sawStatus = false;
  await page.route('**/api/uploads/*', async (route) => {
    if (route.request().method() === 'PATCH') {
      patchNo += 1;
      if (patchNo === 4) return route.abort('connectionreset');
    }
    return route.continue();
  });
  await page.goto(`${base}/teach/upload.html?chunk=65536`);
  await page.waitForFunction(() => !document.getElementById('start').disabled);
  await page.setInputFiles('#file', retryMp4);
  await page.click('#start');
  const status = await page.waitForSelector('#status:not(.hidden)', { timeout: 10_000 });
  for (let i = 0; i < 40 && !sawStatus; i++) {
    const text = (await status.textContent()) || '';
    if (text.includes('网络中断，正在重试')) sawStatus = true;
    else await page.waitForTimeout(50);
  }
  assert(sawStatus, 'the retry message was not shown');
  await shot(page, 'upload-retrying.png');
  await page.waitForSelector('#result:not(.hidden)', { timeout: 20_000 });
  assert((await page.textContent('#result')).includes('上传完成'), 'did not complete after the retry');
  assert(await page.evaluate(() => document.getElementById('upload-progress').value === 100), 'bar not full');
});

await check('after a reload, re-picking the same file resumes from the server\'s offset', async () => {
  let patchNo = 0;
  await page.route('**/api/uploads/*', async (route) => {
    if (route.request().method() === 'PATCH') {
      patchNo += 1;
      if (patchNo > 3) return route.abort('internetdisconnected'); // the network goes away
    }
    return route.continue();
  });
  await page.goto(`${base}/teach/upload.html?chunk=65536`);
  await page.waitForFunction(() => !document.getElementById('start').disabled);
  await page.setInputFiles('#file', reloadMp4);
  await page.click('#start');
  await page.waitForFunction(() => (document.getElementById('status').textContent || '').includes('网络中断'),
    null, { timeout: 10_000 });
  await page.unroute('**/api/uploads/*');
  page.once('dialog', (d) => d.accept()); // "leave the page?" while uploading
  const offsets = [];
  page.on('request', (req) => {
    if (req.method() === 'PATCH') offsets.push(Number(req.headers()['upload-offset']));
  });
  await page.goto(`${base}/teach/upload.html?chunk=65536`);
  await page.waitForFunction(() => !document.getElementById('start').disabled);
  await page.waitForSelector('#unfinished:not(.hidden)', { timeout: 5000 });
  const unfinished = await page.textContent('#unfinished');
  assert(unfinished.includes('reload.mp4'), `unfinished list: "${unfinished}"`);
  await page.setInputFiles('#file', reloadMp4);
  const info = await page.textContent('#file-info');
  assert(info.includes('没有传完'), `file info does not offer to resume: "${info}"`);
  await page.click('#start');
  await page.waitForSelector('#result:not(.hidden)', { timeout: 20_000 });
  assert((await page.textContent('#result')).includes('上传完成'), 'did not complete');
  assert(offsets.length > 0 && offsets[0] === 3 * 65536, `resumed at ${offsets[0]}, expected ${3 * 65536}`);
  const list = JSON.parse(await (await page.request.get(`${base}/api/uploads`)).text());
  const mine = list.uploads.filter((u) => u.filename === 'reload.mp4');
  assert(mine.length === 1 && mine[0].offset === mp4Size, `server has ${JSON.stringify(mine)}`);
});

await check('a file that is not a video is refused in red, in the server\'s words', async () => {
  const noise = path.join(mediaDir, 'noise.mp4');
  fs.writeFileSync(noise, Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919 + 13) % 251)));
  await page.goto(`${base}/teach/upload.html`);
  await page.waitForFunction(() => !document.getElementById('start').disabled);
  await page.setInputFiles('#file', noise);
  await page.click('#start');
  await page.waitForSelector('#result:not(.hidden)', { timeout: 20_000 });
  const result = await page.textContent('#result');
  const kind = await page.getAttribute('#result', 'class');
  if (kind.includes('message-ok') && result.includes('上传完成')) {
    throw new Skip('the server does not check uploads yet');
  }
  assert(kind.includes('message-error'), `result is ${kind}: "${result}"`);
  const color = await page.evaluate(() => getComputedStyle(document.getElementById('result')).backgroundColor);
  assert(color === 'rgb(255, 180, 168)', `not red: ${color}`);
  const up = JSON.parse(await (await page.request.get(`${base}/api/uploads`)).text())
    .uploads.find((u) => u.filename === 'noise.mp4');
  assert(up && up.state === 'refused' && result.includes(up.error), `server: ${JSON.stringify(up)}; page "${result}"`);
  assert(!/[{}]/.test(result), 'raw JSON on the page');
  await shot(page, 'upload-refused.png');
});

let libraryThere = false;
let realItem = null;

await check('the uploaded lecture appears in the /teach/ list', async () => {
  await page.goto(`${base}/teach/`);
  await page.waitForSelector('.lecture', { timeout: 10_000 });
  const card = page.locator('.lecture', { hasText: '书法入门 第一讲' });
  await card.waitFor({ timeout: 10_000 });
  const state = (await card.locator('.lecture-state').textContent()).trim();
  assert(state.length > 0 && !/[{}"]/.test(state), `state "${state}"`);
  const mode = await page.evaluate(() => window.ketangHome.mode());
  diag(`list from ${mode === 'library' ? 'GET /api/library' : 'GET /api/uploads (library not there yet)'}; state "${state}"`);
  await shot(page, 'home-desktop.png');
  libraryThere = mode === 'library';
});

// ---- with the real library (when the server imports uploads) ----

await check('the lecture becomes 可以播放 and 预览 plays it inline', async () => {
  if (!libraryThere) throw new Skip('GET /api/library is not there yet');
  const card = page.locator('.lecture', { hasText: '书法入门 第一讲' });
  // The page refreshes by itself while the lecture is processing.
  await page.waitForFunction(() => [...document.querySelectorAll('.lecture')].some((li) =>
    li.textContent.includes('书法入门 第一讲') && li.getAttribute('data-state') !== 'processing'),
  null, { timeout: 60_000 });
  const state = await card.getAttribute('data-state');
  assert(state === 'ready', `state ${state}: "${await card.locator('.lecture-state').textContent()}"`);
  realItem = await card.getAttribute('data-id');
  assert((await card.locator('.lecture-state').textContent()) === '可以播放', 'state in words');
  assert(/时长 \d\d:\d\d/.test(await card.locator('.lecture-meta').textContent()), 'length shown');
  await card.locator('.action-preview').click();
  await page.waitForFunction((id) => {
    const v = document.querySelector(`.lecture[data-id="${id}"] video`);
    return v && v.currentTime > 1;
  }, realItem, { timeout: 20_000 });
  assert((await card.locator('.action-preview').textContent()) === '关闭预览', 'close label');
  await shot(page, 'home-preview.png');
  await card.locator('.action-preview').click();
  assert((await card.locator('video').count()) === 0, 'the player was not closed');
});

await check('编辑 saves the title and description on the server', async () => {
  if (!realItem) throw new Skip('no ready lecture');
  const card = page.locator(`.lecture[data-id="${realItem}"]`);
  await card.locator('.action-edit').click();
  await card.locator('.edit-title').fill('');
  await card.locator('.edit-save').click();
  assert((await card.locator('.lecture-panel .message').textContent()) === '请填写标题。', 'empty title refused');
  await card.locator('.edit-title').fill('书法入门 第一讲（修订）');
  await card.locator('.edit-description').fill('从执笔、坐姿讲起');
  await card.locator('.edit-save').click();
  await card.locator('.message-ok').waitFor();
  const lib = JSON.parse(await (await page.request.get(`${base}/api/library`)).text());
  const item = lib.items.find((i) => i.id === realItem);
  assert(item.title === '书法入门 第一讲（修订）' && item.description === '从执笔、坐姿讲起',
    `server has ${JSON.stringify(item)}`);
  assert((await card.locator('.lecture-title').textContent()) === '书法入门 第一讲（修订）', 'card title');
});

await check('安排播出 puts it on the timetable; the same time again shows the clash', async () => {
  if (!realItem) throw new Skip('no ready lecture');
  // The schedules directory starts empty, so there is no channel to pick
  // from yet: offer one; the lesson itself goes to the real server.
  await page.route('**/api/channels', (route) => json(route, 200,
    { channels: [{ id: '7', name: '第七频道·测试' }] }));
  const card = page.locator(`.lecture[data-id="${realItem}"]`);
  await Promise.all([page.waitForURL(/\/teach\/schedule\.html\?item=/), card.locator('.action-schedule').click()]);
  await page.waitForSelector('#schedule-form:not(.hidden)');
  assert((await page.textContent('#item-title')) === '书法入门 第一讲（修订）', 'item title');
  await page.fill('#date', '2027-03-02');
  await page.click('#submit');
  await page.waitForSelector('#success:not(.hidden)');
  const done = await page.textContent('#success-text');
  assert(done === '已安排：第七频道·测试 2027年3月2日 周二 09:00', `success "${done}"`);
  await shot(page, 'schedule-real-done.png');
  await page.click('#again');
  await page.click('#submit');
  await page.waitForSelector('#form-message:not(.hidden)');
  const clash = await page.textContent('#form-message');
  assert(clash.includes('重叠'), `clash "${clash}"`);
  diag(`clash shown: ${clash}`);
  await shot(page, 'schedule-real-clash.png');
  await page.unroute('**/api/channels');
  const channels = JSON.parse(await (await page.request.get(`${base}/api/channels`)).text());
  const seven = channels.channels.find((c) => c.id === '7');
  assert(seven && seven.next && seven.next.source === `item:${realItem}`,
    `GET /api/channels: ${JSON.stringify(channels)}`);
});

// ---- states the server cannot produce on demand: the documented answers, routed ----

const ITEMS = [
  { id: 'it-proc', title: '太极拳（三）', teacher: '王老师', owner: 'wang', description: '',
    duration_s: 3600, state: 'processing', progress: 0.42, eta_s: 180, error: null,
    created: '2026-11-29T10:00:00+08:00', thumbnail: null, playlist: '/watch/it-proc/index.m3u8' },
  { id: 'it-ready', title: '书法入门 第一讲', teacher: '王老师', owner: 'wang', description: '楷书',
    duration_s: 754, state: 'ready', progress: 1, eta_s: null, error: null,
    created: '2026-11-28T10:00:00+08:00', thumbnail: null, playlist: '/watch/it-ready/index.m3u8' },
  { id: 'it-long', title: '健康讲座', teacher: '李老师', owner: 'li', description: '',
    duration_s: 4000, state: 'ready', progress: null, eta_s: null, error: null,
    created: '2026-11-27T10:00:00+08:00', thumbnail: null, playlist: '/watch/it-long/index.m3u8' },
  { id: 'it-bad', title: '坏文件', teacher: '王老师', owner: 'wang', description: '',
    duration_s: null, state: 'failed', progress: null, eta_s: null, error: '文件里没有声音也没有图像',
    created: '2026-11-26T10:00:00+08:00', thumbnail: null, playlist: '/watch/it-bad/index.m3u8' },
];

await check('lecture list: states in words, lengths, progress refresh, edit with PATCH', async () => {
  let gets = 0;
  const patched = [];
  const items = structuredClone(ITEMS);
  await page.route(LIBRARY, async (route) => {
    const req = route.request();
    if (req.method() === 'GET') {
      gets += 1;
      if (gets >= 2) Object.assign(items[0], { progress: 0.9, eta_s: 30 });
      return json(route, 200, { items });
    }
    if (req.method() === 'PATCH') {
      const body = JSON.parse(req.postData());
      patched.push({ url: req.url(), body, csrf: req.headers()['x-csrf-token'] });
      Object.assign(items[1], body);
      return json(route, 200, items[1]);
    }
    return route.fallback();
  });
  await page.goto(`${base}/teach/`);
  const proc = page.locator('.lecture[data-id="it-proc"]');
  await proc.waitFor();
  const procState = await proc.locator('.lecture-state').textContent();
  assert(procState === '正在处理 42%，约剩 3 分钟', `processing: "${procState}"`);
  assert((await proc.locator('.lecture-meta').textContent()).includes('1:00:00'), 'length 1:00:00');
  const ready = page.locator('.lecture[data-id="it-ready"]');
  assert((await ready.locator('.lecture-state').textContent()) === '可以播放', 'ready state');
  assert((await ready.locator('.lecture-meta').textContent()).includes('12:34'), 'length 12:34');
  assert((await page.locator('.lecture[data-id="it-long"] .lecture-meta').textContent()).includes('1:06:40'),
    'length 1:06:40');
  const bad = await page.locator('.lecture[data-id="it-bad"] .lecture-state').textContent();
  assert(bad === '处理失败：文件里没有声音也没有图像', `failed: "${bad}"`);
  assert(await ready.locator('.action-preview').isVisible(), 'a ready lecture has 预览');
  assert(await ready.locator('.action-schedule').isVisible(), 'a ready lecture has 安排播出');
  assert(!(await proc.locator('.action-preview').isVisible()), 'a processing lecture has no 预览');
  assert(!(await ready.locator('.action-delete').isVisible()), 'a teacher sees no 删除');
  assert((await ready.locator('.action-schedule').getAttribute('href')) === '/teach/schedule.html?item=it-ready',
    'schedule link');
  // While something is processing the list is fetched again.
  await page.waitForFunction(() => document.querySelector('.lecture[data-id="it-proc"] .lecture-state')
    .textContent.startsWith('正在处理 90%'), null, { timeout: 10_000 });
  await shot(page, 'home-list.png');
  // Edit: title and description, saved with PATCH and the CSRF token.
  await ready.locator('.action-edit').click();
  await ready.locator('.edit-title').fill('书法入门（楷书）第一讲');
  await ready.locator('.edit-description').fill('执笔与坐姿');
  await ready.locator('.edit-save').click();
  await page.waitForFunction(() => document.querySelector('.lecture[data-id="it-ready"] .lecture-title')
    .textContent === '书法入门（楷书）第一讲');
  const token = (await me(page)).csrf;
  assert(patched.length === 1 && patched[0].url.endsWith('/api/library/it-ready') &&
    patched[0].body.title === '书法入门（楷书）第一讲' && patched[0].body.description === '执笔与坐姿' &&
    patched[0].csrf === token, `PATCH: ${JSON.stringify(patched)}`);
  // Preview: a player opens inline; a playlist that will not load is said in words.
  await page.route('**/watch/it-ready/**', (route) => json(route, 404,
    { error: { code: 'not-found', message: 'no such item' } }));
  await ready.locator('.action-preview').click();
  await ready.locator('video').waitFor();
  await ready.locator('.lecture-panel .message:not(.hidden)').waitFor({ timeout: 15_000 });
  const why = await ready.locator('.lecture-panel .message').textContent();
  assert(why.includes('无法播放预览'), `preview problem: "${why}"`);
  assert(await page.evaluate(() => typeof window.Hls === 'function'), 'hls.js was not loaded');
});

await check('admin: 删除 shows the lessons on the timetable and "仍然删除" sends ?force=1', async () => {
  const deletes = [];
  await page.route('**/api/me', async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    if (!body.user) diag(`GET /api/me answered ${res.status()} ${JSON.stringify(body)}`);
    body.user.role = 'admin';
    return json(route, 200, body);
  });
  await page.route(LIBRARY, async (route) => {
    const req = route.request();
    if (req.method() === 'GET') return json(route, 200, { items: ITEMS });
    if (req.method() === 'DELETE') {
      deletes.push(req.url());
      if (!req.url().includes('force=1')) {
        return json(route, 409, {
          error: { code: 'in-use', message: '这个讲座还排在课表上' },
          lessons: [{ channel: '2', title: '书法入门', start: '2026-12-01T09:00:00+08:00' },
            { channel: '3', title: '书法入门（重播）', start: '2026-12-03T14:30:00+08:00' }],
        });
      }
      return route.fulfill({ status: 204, body: '' });
    }
    return route.fallback();
  });
  await page.goto(`${base}/teach/`);
  const long = page.locator('.lecture[data-id="it-long"]');
  await long.waitFor();
  assert((await long.locator('.lecture-meta').textContent()).includes('李老师'), 'an admin sees whose lecture');
  await long.locator('.action-delete').click();
  await long.locator('.delete-yes').click();
  await long.locator('.delete-anyway').waitFor();
  await long.locator('.timetable-lessons li').nth(1).waitFor();
  const lessons = await long.locator('.timetable-lessons li').allTextContents();
  assert(lessons.length === 2 && lessons[0].includes('2026年12月1日') && lessons[0].includes('09:00') &&
    lessons[0].includes('书法入门'), `lessons: ${JSON.stringify(lessons)}`);
  await shot(page, 'home-delete-409.png');
  await long.locator('.delete-anyway').click();
  await long.waitFor({ state: 'detached' });
  assert(deletes.length === 2 && deletes[0].endsWith('/api/library/it-long') &&
    deletes[1].endsWith('/api/library/it-long?force=1'), `DELETEs: ${JSON.stringify(deletes)}`);
});

await check('schedule form: the clash message as the server says it, then "已安排：…"', async () => {
  // The real server: an item that is not ready cannot be scheduled.
  await page.goto(`${base}/teach/schedule.html?item=no-such-item`);
  await page.waitForSelector('#page-message:not(.hidden)');
  assert((await page.textContent('#page-message')).includes('找不到这个讲座'), 'unknown item message');

  const posts = [];
  await page.route('**/api/items/it-ready', (route) => json(route, 200,
    { id: 'it-ready', title: '书法入门 第一讲', teacher: '王老师', duration_s: 754, playlist: '/watch/it-ready/index.m3u8' }));
  await page.route('**/api/channels', (route) => json(route, 200, {
    channels: [{ id: '2', name: '第二频道·书画' }, { id: '3', name: '第三频道·健康' }] }));
  await page.route('**/api/lessons', (route) => {
    const body = JSON.parse(route.request().postData());
    posts.push({ body, csrf: route.request().headers()['x-csrf-token'] });
    if (posts.length === 1) {
      return json(route, 409, { error: { code: 'schedule',
        message: '第二频道·书画 12月1日 09:00–09:13 与《国画花鸟》(09:00–10:30) 时间重叠' } });
    }
    return json(route, 201, { uid: 'u-1@ketang', channel: body.channel, file: `${body.channel}.ics` });
  });
  await page.goto(`${base}/teach/schedule.html?item=it-ready`);
  await page.waitForSelector('#schedule-form:not(.hidden)');
  assert((await page.textContent('#item-title')) === '书法入门 第一讲', 'item title');
  assert((await page.inputValue('#time')) === '09:00', 'start time defaults to 09:00');
  await page.selectOption('#channel', '2');
  await page.fill('#date', '2026-12-01');
  await page.click('#submit');
  await page.waitForSelector('#form-message:not(.hidden)');
  const clash = await page.textContent('#form-message');
  assert(clash === '第二频道·书画 12月1日 09:00–09:13 与《国画花鸟》(09:00–10:30) 时间重叠', `clash "${clash}"`);
  await shot(page, 'schedule-clash.png');
  await page.fill('#time', '14:00');
  await page.fill('#until', '2027-01-19');
  await page.click('#submit');
  await page.waitForSelector('#success:not(.hidden)');
  const done = await page.textContent('#success-text');
  assert(done.startsWith('已安排：第二频道·书画 2026年12月1日 周二 14:00'), `success "${done}"`);
  const token = (await me(page)).csrf;
  assert(posts[1].body.channel === '2' && posts[1].body.item === 'it-ready' &&
    posts[1].body.start === '2026-12-01T14:00' && posts[1].body.weekly_until === '2027-01-19' &&
    !('title' in posts[1].body) && posts[1].csrf === token, `POST: ${JSON.stringify(posts[1])}`);
  await shot(page, 'schedule-done.png');
});

await check('a 390 px phone keeps big type and big buttons, nothing wider than the screen', async () => {
  const phone = await context.newPage();
  phone.on('pageerror', (err) => pageErrors.push(String(err)));
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.route(LIBRARY, (route) => json(route, 200, { items: ITEMS }));
  const problems = [];
  for (const [url, ready, name] of [
    ['/teach/', '.lecture', 'phone-home.png'],
    ['/teach/upload.html', '#file-button', 'phone-upload.png'],
  ]) {
    await phone.goto(`${base}${url}`);
    await phone.waitForSelector(ready);
    await phone.waitForTimeout(200);
    const m = await phone.evaluate(() => {
      const visible = (e) => e.offsetParent !== null && !e.classList.contains('visually-hidden');
      const buttons = [...document.querySelectorAll('.btn')].filter(visible);
      return {
        base: parseFloat(getComputedStyle(document.body).fontSize),
        smallestText: Math.min(...[...document.querySelectorAll('p, li, label, h2, h3, .btn, input')]
          .filter(visible).map((e) => parseFloat(getComputedStyle(e).fontSize))),
        lowest: Math.min(...buttons.map((b) => b.getBoundingClientRect().height)),
        narrowest: Math.min(...buttons.map((b) => b.getBoundingClientRect().width)),
        scrollWidth: document.documentElement.scrollWidth,
      };
    });
    if (m.base < 20 || m.smallestText < 20) problems.push(`${url}: type ${JSON.stringify(m)}`);
    if (m.lowest < 48 || m.narrowest < 48) problems.push(`${url}: buttons ${JSON.stringify(m)}`);
    if (m.scrollWidth > 390) problems.push(`${url}: ${m.scrollWidth} px wide`);
    await shot(phone, name);
  }
  await phone.close();
  assert(problems.length === 0, problems.join('; '));
});

await check('?lang=en shows the pages in English', async () => {
  await page.goto(`${base}/teach/?lang=en`);
  await page.waitForFunction(() => document.getElementById('greeting').textContent.length > 0);
  assert((await page.textContent('#upload-link')).trim() === 'Upload a lecture', 'upload label');
  assert((await page.textContent('#greeting')).startsWith('Hello'), 'greeting');
  assert((await page.getAttribute('html', 'lang')) === 'en', 'html lang');
  assert((await page.getAttribute('#upload-link', 'href')) === '/teach/upload.html?lang=en', 'links keep lang');
  await page.goto(`${base}/teach/upload.html?lang=en`);
  assert((await page.textContent('#start')).trim() === 'Start upload', 'start label');
});

await check('退出登录 ends the session and goes to the login page', async () => {
  await page.goto(`${base}/teach/`);
  await page.waitForFunction(() => document.getElementById('greeting').textContent.length > 0);
  await Promise.all([page.waitForURL(/\/login\.html/), page.click('#logout')]);
  const res = await page.request.get(`${base}/api/me`);
  assert(res.status() === 401, `GET /api/me answered ${res.status()}`);
});

await check('no script errors on the pages', async () => {
  assert(pageErrors.length === 0, pageErrors.join('\n'));
});

diag(`screenshots in ${shotDir}`);
clearTimeout(watchdog);
await cleanup();
process.exit(failures ? 1 : 0);
