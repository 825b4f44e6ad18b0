// What the real-time browser tests share: TAP output, waiting for a
// condition, and times in iCalendar's UTC form for compressed timetables.

import { setTimeout as sleep } from 'node:timers/promises';

export const tap = { n: 0, failed: 0 };

// One test point; @detail is printed as a diagnosis when it fails.
export function ok(cond, name, detail) {
  tap.n++;
  if (!cond) tap.failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${tap.n} - ${name}`);
  if (!cond && detail) console.log(`# ${String(detail).split('\n').join('\n# ')}`);
  return cond;
}

export function diag(s) {
  console.log(`# ${s}`);
}

// Poll @fn (async; a throw counts as "not yet") every 250 ms until it
// returns something truthy, which is returned; throws after @timeoutMs.
export async function until(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn().catch(() => null);
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
