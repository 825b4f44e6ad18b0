// What the browser tests share: TAP output, a real ketang server on a free
// loopback port with a throw-away data directory, polling with a deadline,
// and Debian's Chromium through playwright-core.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

export { sleep };

export function tap() {
  let n = 0;
  let failed = 0;
  return {
    ok(cond, name, detail) {
      n++;
      if (!cond) failed++;
      console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
      if (!cond && detail) console.log(`# ${String(detail).split('\n').join('\n# ')}`);
      return cond;
    },
    diag(s) {
      console.log(`# ${String(s).split('\n').join('\n# ')}`);
    },
    end() {
      console.log(`1..${n}`);
      return failed ? 1 : 0;
    },
  };
}

// Poll @fn (async; a throw counts as "not yet") every 250 ms until it
// returns something truthy, which is returned; throws after @timeoutMs.
export async function until(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await Promise.resolve().then(fn).catch(() => null);
    if (v) return v;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// 1796086800000 → "20261201T010000Z"
export function icsTime(ms) {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

// A click and a typed value done in the page's DOM: no actionability waits,
// which a headless Chromium decoding video on a loaded machine may not get
// through (it paints too seldom for "stable" to be seen).
export async function clickDom(page, selector) {
  await page.$eval(selector, (el) => el.click());
}

export async function fillDom(page, selector, value) {
  await page.$eval(selector, (el, v) => { el.value = v; }, value);
}

export async function json(url) {
  const r = await fetch(url);
  return r.ok ? r.json() : null;
}

// `ketang serve --demo` with @env added; resolves once it listens.
// Options: demo (false: no demo timetable), users ([name, role, password]
// accounts made with `ketang user add` before the server starts).
export async function startServer(bin, env = {}, prefix = 'ketang-browser-',
  { demo = true, users = [] } = {}) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const [name, role, password] of users) {
    const added = spawnSync(bin, ['user', 'add', '--role', role, '--data', data, name],
      { input: `${password}\n`, encoding: 'utf8' });
    if (added.status !== 0) throw new Error(`ketang user add ${name} failed: ${added.stderr}`);
  }
  const log = [];
  const proc = spawn(bin, ['serve', ...(demo ? ['--demo'] : []), '--listen', '127.0.0.1:0',
    '--data', data], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const s of [proc.stdout, proc.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (d) => log.push(...d.split('\n')));
  }
  const base = await until('the server to listen', async () => {
    const line = log.find((l) => /listening on (http:\/\/\S+)/.test(l));
    return line && /listening on (http:\/\/\S+)/.exec(line)[1];
  }, 60_000);
  return {
    base, data, log, proc,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      fs.rmSync(data, { recursive: true, force: true });
    },
  };
}

// @extraArgs: more Chromium switches (a fake camera, for instance).
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', ...extraArgs],
  });
}
