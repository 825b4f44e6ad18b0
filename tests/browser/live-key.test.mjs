#!/usr/bin/env node
// Browser test for the teacher's live page /teach/live.html (TAP output).
//
// Usage:  node tests/browser/live-key.test.mjs <path-to-ketang-binary>
//
// A teacher logs in, opens the live page from the home page, makes a publish
// key and sees it once with the whole OBS server line (the server's SRT
// address, the talk's name, the key); the server then has a key; after a
// reload the key is no longer shown, only when it was made; a new key asks
// first and is another key. (That the old key then stops working is
// test-auth's.)
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const bin = process.argv[2] || process.env.KETANG_BIN;
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const PASSWORD = 'live-page-pw';
let n = 0;
let failed = 0;
function ok (cond, name, detail) {
  n++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!cond) {
    failed++;
    if (detail) console.log(`# ${detail}`);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-live-page-'));
const dataDir = path.join(tmp, 'data');
fs.mkdirSync(path.join(tmp, 'schedules'), { recursive: true });
fs.mkdirSync(dataDir);
const srtPort = await new Promise((resolve) => {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const added = spawnSync(bin, ['user', 'add', '--role', 'teacher', '--data', dataDir, 'li'],
  { input: `${PASSWORD}\n`, encoding: 'utf8' });
if (added.status !== 0) {
  console.log(`Bail out! ketang user add failed: ${added.stderr}`);
  process.exit(1);
}
const server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', dataDir], {
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, KETANG_SERVER_SCHEDULES_DIR: path.join(tmp, 'schedules'),
    KETANG_LIVE_SRT_LISTEN: `127.0.0.1:${srtPort}` },
});
let log = '';
server.stderr.on('data', (c) => { log += c; });
server.stdout.on('data', (c) => { log += c; });
let base = null;
for (let i = 0; i < 300 && !base; i++) {
  const m = /http:\/\/127\.0\.0\.1:\d+/.exec(log);
  if (m) base = m[0];
  else await sleep(100);
}
let browser = null;
async function cleanup () {
  if (browser) await browser.close().catch(() => {});
  server.kill('SIGTERM');
  await sleep(300);
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (!base) {
  console.log('Bail out! the server did not start');
  await cleanup();
  process.exit(1);
}
console.log('1..6');

try {
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu'] });
  const page = await (await browser.newContext({ locale: 'zh-CN' })).newPage();
  await page.goto(`${base}/login.html?next=/teach/`);
  await page.fill('#name', 'li');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${base}/teach/`), page.click('#submit')]);
  await Promise.all([page.waitForURL(`${base}/teach/live.html`), page.click('#live-link')]);
  await page.waitForFunction(() => document.getElementById('key-state').textContent.indexOf('还没有') >= 0,
    null, { timeout: 20_000 });
  ok(true, 'the home page leads to the live page, which says there is no key yet');

  await page.fill('#talk', 'baogaohui');
  await page.click('#rotate');
  await page.waitForFunction(() => document.getElementById('key').textContent.length === 43,
    null, { timeout: 20_000 });
  const key = await page.textContent('#key');
  const line = await page.textContent('#srt-url');
  ok(line === `srt://127.0.0.1:${srtPort}?streamid=baogaohui/${key}`,
    'the new key is shown once, inside the whole OBS server line', line);

  // The same session asks the API whether a key exists now.
  const me = await page.evaluate(async () => (await fetch('/api/live/key')).json());
  ok(me.created !== null, 'the server has the key the page made');

  await page.reload();
  await page.waitForFunction(() => document.getElementById('key-state').textContent.indexOf('生成于') >= 0,
    null, { timeout: 20_000 });
  ok(!(await page.isVisible('#key-box')) && (await page.textContent('#srt-url')).indexOf(key) < 0,
    'after a reload the key is gone from the page; only when it was made is shown');

  await page.click('#rotate');
  ok(await page.isVisible('#rotate-confirm'), 'a new key asks first');
  await page.click('#rotate-yes');
  await page.waitForFunction((old) => {
    const k = document.getElementById('key').textContent;
    return k.length === 43 && k !== old;
  }, key, { timeout: 20_000 });
  const second = await page.textContent('#key');
  ok(second !== key, 'the new key differs from the old one');
} catch (err) {
  ok(false, 'the live page works', err && err.stack ? err.stack : String(err));
}
await cleanup();
process.exit(failed ? 1 : 0);
