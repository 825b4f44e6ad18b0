#!/usr/bin/env node
// Browser test for the login page (TAP output).
//
// Usage:  node tests/browser/login.test.mjs <path-to-ketang-binary>
//
// Adds an account with `ketang user add`, starts `ketang serve` on a free
// loopback port, and drives Debian's Chromium (playwright-core) through
// web/login.html: a wrong password is refused in words, the right one lands
// on ?next=, a ?next= that points off the site lands on "/" instead (no open
// redirect), English via ?lang=en, and logging out from the page.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const bin = process.argv[2] || process.env.KETANG_BIN;
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const PASSWORD = 'login-page-pw';
let n = 0;
let failures = 0;

async function check(name, fn) {
  n += 1;
  try {
    await fn();
    console.log(`ok ${n} - ${name}`);
  } catch (err) {
    failures += 1;
    console.log(`not ok ${n} - ${name}`);
    for (const line of String(err && err.stack ? err.stack : err).split('\n')) console.log(`# ${line}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ketang-login-'));
const added = spawnSync(bin, ['user', 'add', '--role', 'teacher', '--display-name', '王老师',
  '--data', dataDir, 'wang'], { input: `${PASSWORD}\n`, encoding: 'utf8' });
if (added.status !== 0) {
  console.log(`Bail out! ketang user add failed: ${added.stderr}`);
  process.exit(1);
}
if (!fs.existsSync(chromiumPath)) {
  console.log(`Bail out! Chromium not found at ${chromiumPath}`);
  process.exit(1);
}

const server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', dataDir],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((resolve, reject) => {
  let buf = '';
  server.stdout.setEncoding('utf8');
  server.stdout.on('data', (chunk) => {
    buf += chunk;
    const m = /listening on (http:\/\/\S+?)\/?\s/.exec(buf);
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`server exited (${code})`)));
  setTimeout(() => reject(new Error('server did not start')), 60_000);
});

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (err) => pageErrors.push(String(err)));

console.log('1..7');

await check('a wrong password is refused in Chinese and no cookie is set', async () => {
  await page.goto(`${base}/login.html?next=/api/me`);
  await page.fill('#name', 'wang');
  await page.fill('#password', 'not-the-password');
  await page.click('#submit');
  await page.waitForSelector('#message:not(.hidden)');
  const text = await page.textContent('#message');
  assert(text.includes('不正确'), `message was "${text}"`);
  assert((await context.cookies()).length === 0, 'a cookie was set');
});

await check('the right password lands on ?next= with an HttpOnly session cookie', async () => {
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${base}/api/me`), page.click('#submit')]);
  const me = JSON.parse(await page.textContent('body'));
  assert(me.user.name === 'wang' && me.user.role === 'teacher', JSON.stringify(me));
  const [cookie] = await context.cookies();
  assert(cookie.name === 'ketang_session' && cookie.httpOnly && cookie.sameSite === 'Lax',
    JSON.stringify(cookie));
});

await check('safeNext keeps same-site paths and refuses every other kind', async () => {
  await page.goto(`${base}/login.html`);
  const results = await page.evaluate(() => {
    const cases = ['/admin/?x=1#y', '//evil.example/', '/\\evil.example', 'https://evil.example/',
      'javascript:alert(1)', '/\t/evil.example', ' /x', '', 'evil', '/%2F%2Fevil'];
    return cases.map((c) => [c, window.ketangLogin.safeNext(c)]);
  });
  const expected = ['/admin/?x=1#y', '/', '/', '/', '/', '/', '/', '/', '/', '/%2F%2Fevil'];
  results.forEach(([given, got], i) => assert(got === expected[i], `${JSON.stringify(given)} → ${got}`));
});

await check('an off-site ?next= lands on this site\'s "/" (no open redirect)', async () => {
  await page.goto(`${base}/login.html?next=${encodeURIComponent('//evil.example/phish')}`);
  await page.waitForSelector('#signed-in:not(.hidden)'); // already logged in: offers to go on
  const [nav] = await Promise.all([
    page.waitForRequest((r) => r.isNavigationRequest()), page.click('#continue')]);
  assert(nav.url() === `${base}/`, `went to ${nav.url()}`);
});

await check('?lang=en shows the page in English', async () => {
  await page.goto(`${base}/login.html?lang=en`);
  await page.waitForSelector('#signed-in:not(.hidden)');
  assert((await page.textContent('#logout')) === 'Log out', 'logout label');
  assert((await page.getAttribute('html', 'lang')) === 'en', 'html lang');
});

await check('logging out from the page ends the session', async () => {
  await page.click('#logout');
  await page.waitForSelector('#login-form:not(.hidden)');
  const res = await page.request.get(`${base}/api/me`);
  assert(res.status() === 401, `GET /api/me answered ${res.status()}`);
});

await check('no script errors on the page', async () => {
  assert(pageErrors.length === 0, pageErrors.join('\n'));
});

await browser.close();
server.kill('SIGTERM');
await new Promise((resolve) => server.on('exit', resolve));
fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(failures ? 1 : 0);
