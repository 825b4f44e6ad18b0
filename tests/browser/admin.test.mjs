// Browser test of the administrators' pages (TAP output).
//
//   node tests/browser/admin.test.mjs <path-to-ketang>
//
// An administrator and a teacher are added with `ketang user add`; the
// server runs without a timetable. In Debian's Chromium (playwright-core):
// the viewing points page adds a room and shows its code, its TV link and a
// QR code of that link (an SVG drawn by qrcode-generator); the link works
// (GET /api/kiosk with its token names the room); editing moves the room to
// another channel; disabling shows it disabled; "new link" retires the old
// token. The reports page draws its charts (Chart.js canvases) and tables,
// and the live board answers. A teacher is told the page is for
// administrators. On the player, a person at home signs in (在家签到) with a
// name and phone and is then counted on the live board; a wrong viewing
// point code is refused in words.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { clickDom, fillDom, tap, until } from './lib.mjs';

const t = tap();
const { ok } = t;

const bin = process.argv[2] || process.env.KETANG_BIN;
const PASSWORD = 'admin-page-pw';
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-admin-'));
const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-admin-schedules-'));
// Channel 5 airs a lesson from now for an hour; its item does not exist, so
// it airs a card saying so and nothing but that card is rendered.
const stamp = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
fs.writeFileSync(path.join(empty, '5.ics'), ['BEGIN:VCALENDAR', 'VERSION:2.0',
  'PRODID:-//ketang//test//ZH', 'X-WR-CALNAME:第五频道', 'X-KETANG-CHANNEL:5', 'BEGIN:VEVENT', 'UID:x',
  'SUMMARY:保健操', `DTSTART:${stamp(Date.now() - 60_000)}`, `DTEND:${stamp(Date.now() + 3600_000)}`,
  'X-KETANG-SOURCE:item:missing', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n'));
let server = null;
let browser = null;

function addUser(role, name) {
  const r = spawnSync(bin, ['user', 'add', '--role', role, '--data', data, name],
    { input: `${PASSWORD}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ketang user add: ${r.stderr}`);
}

async function login(page, base, name) {
  await page.goto(`${base}/login.html?next=/admin/viewpoints.html`);
  await page.fill('#name', name);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(/\/admin\/viewpoints\.html/), page.click('#submit')]);
}

try {
  addUser('admin', 'boss');
  addUser('teacher', 'wang');
  server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', data], {
    env: { ...process.env, KETANG_SERVER_SCHEDULES_DIR: empty },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  server.stdout.setEncoding('utf8');
  server.stdout.on('data', (d) => { out += d; });
  const base = await until('the server to listen', async () => {
    const m = /listening on (http:\/\/\S+?)\/?\s/.exec(out);
    return m && m[1];
  }, 60_000);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('dialog', (d) => d.accept());
  await login(page, base, 'boss');

  await page.click('#add-open');
  await page.fill('#f-name', '城关镇老年活动中心');
  await page.fill('#f-township', '城关镇');
  await page.fill('#f-seats', '40');
  await page.click('#f-save');
  await page.waitForSelector('#card:not(.hidden)');
  const code = (await page.textContent('#card-code')).trim();
  const url = (await page.textContent('#card-url')).trim();
  ok(/^\d{6}$/.test(code), 'a new room shows its 6-digit code', code);
  ok(url.startsWith(`${base}/?kiosk=1&token=`), 'and its TV link', url);
  ok(await page.isVisible('#card-qr svg'), 'and a QR code of the link');
  const token = new URL(url).searchParams.get('token');
  const kiosk = await (await fetch(`${base}/api/kiosk?token=${token}`)).json();
  ok(kiosk.viewpoint && kiosk.viewpoint.name === '城关镇老年活动中心', 'the link opens the room');

  const row = 'tr:has-text("城关镇老年活动中心")';
  await page.waitForSelector(row);
  ok((await page.textContent(`${row} td.code`)).trim() === code, 'the list shows the room and its code');
  await page.click(`${row} [data-action=edit]`);
  await page.fill('#f-phone', '0571-8888');
  await page.click('#f-save');
  await until('the phone in the list', async () =>
    (await page.textContent(row)).includes('0571-8888'), 10_000);
  ok(true, 'editing changes the room');

  await page.click(`${row} [data-action=toggle]`);
  await until('the room disabled', async () =>
    (await page.getAttribute(row, 'class') || '').includes('row-disabled'), 10_000);
  const refused = await fetch(`${base}/api/kiosk?token=${token}`);
  ok(refused.status === 403, 'disabling it refuses its TV', refused.status);
  await page.click(`${row} [data-action=toggle]`);
  await until('the room enabled', async () =>
    !(await page.getAttribute(row, 'class') || '').includes('row-disabled'), 10_000);

  await page.click(`${row} [data-action=token]`);
  await until('a new link', async () => (await page.textContent('#card-url')).trim() !== url, 10_000);
  const fresh = new URL((await page.textContent('#card-url')).trim()).searchParams.get('token');
  const old = await fetch(`${base}/api/kiosk?token=${token}`);
  const now = await fetch(`${base}/api/kiosk?token=${fresh}`);
  ok(old.status === 401 && now.status === 200, 'a new link retires the old one',
    `${old.status} ${now.status}`);

  await page.goto(`${base}/admin/reports.html`);
  await page.waitForSelector('#months .table-wrap');
  ok(await page.evaluate(() => !!(window.Chart && window.Chart.getChart(document.getElementById('chart-lessons')))),
    'the reports page draws its charts with Chart.js');
  ok((await page.textContent('#viewpoints')).includes('城关镇老年活动中心'),
    'the per viewing point report lists the room');
  ok((await page.getAttribute('#csv-months', 'href')).startsWith('/api/attendance/months.csv?from='),
    'with an Excel download');

  // The room follows channel 5 (the only one, so the form's choice), whose
  // lesson runs: its TV is not on, so the board lists it as missing.
  await page.goto(`${base}/admin/board.html`);
  await page.waitForSelector('#individuals:not(:empty)');
  const missing = await page.textContent('#missing');
  ok(missing.includes('城关镇老年活动中心') && missing.includes('保健操'),
    'the live board lists the room as missing while its lesson runs', missing);

  // A person at home signs in on the player.
  const home = await (await browser.newContext()).newPage();
  home.on('pageerror', (e) => pageErrors.push(String(e)));
  await home.goto(`${base}/?channel=5`);
  await until('the player on channel 5', async () =>
    home.evaluate(() => window.ketangPlayer.channel === '5'), 30_000);
  await clickDom(home, '#join-open');
  await fillDom(home, '#join-code', '000000');
  await clickDom(home, '#join-save');
  await until('the wrong code refused', async () =>
    (await home.textContent('#join-message')).includes('没有这个收视点编号'), 15_000);
  ok(true, 'a wrong viewing point code is refused in words');
  await clickDom(home, '#join-open');
  await fillDom(home, '#join-code', '');
  await fillDom(home, '#join-name', '李阿姨');
  await fillDom(home, '#join-phone', '138 0000 1234');
  await clickDom(home, '#join-save');
  await until('a heartbeat counted', async () => home.evaluate(() => window.ketangAttend.sent > 0), 15_000);
  ok((await home.textContent('#join-status')).includes('李阿姨'), 'signing in at home says so on the page');
  const board = await (await page.request.get(`${base}/api/attendance/online`)).json();
  ok(board.individuals_online === 1, 'and the live board counts one person at home',
    JSON.stringify(board));

  const teacher = await browser.newContext();
  const tpage = await teacher.newPage();
  await tpage.goto(`${base}/login.html?next=/admin/viewpoints.html`);
  await tpage.fill('#name', 'wang');
  await tpage.fill('#password', PASSWORD);
  await Promise.all([tpage.waitForURL(/\/admin\/viewpoints\.html/), tpage.click('#submit')]);
  await tpage.waitForSelector('#page-message:not(.hidden)');
  ok((await tpage.textContent('#page-message')).includes('只有管理员'), 'a teacher is told the page is for administrators');
  ok(pageErrors.length === 0, 'no page errors', pageErrors.join('\n'));
} catch (e) {
  ok(false, 'test ran to the end', e.stack || String(e));
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r)).catch(() => {});
  }
  fs.rmSync(data, { recursive: true, force: true });
  fs.rmSync(empty, { recursive: true, force: true });
  process.exit(t.end());
}
