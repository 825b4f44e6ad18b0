// TAP as module-level ok()/diag() for the kiosk and admin tests; the rest
// of what browser tests share is in lib.mjs.

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

export { until, icsTime, clickDom, fillDom } from './lib.mjs';
