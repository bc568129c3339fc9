// Summarise a V8 .cpuprofile (node --cpu-prof): self and total time per function, and self time per
// area (our dist/ layers, Nest, rxjs, Node internals, GC). Idle time is left out of the percentages.
//   node bench/cpuprofile-top.mjs bench/profiles/nest-udp.cpuprofile [top]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function area(url, name) {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return '(program: native, not JS)';
  if (!url) return 'native/builtin';
  if (url.includes('/dist/message/')) return 'ours: message (codec)';
  if (url.includes('/dist/transaction/')) return 'ours: transaction';
  if (url.includes('/dist/proxy/')) return 'ours: proxy';
  if (url.includes('/dist/dialog/')) return 'ours: dialog';
  if (url.includes('/dist/transport/')) return 'ours: transport';
  if (url.includes('/dist/nest/')) return 'ours: nest';
  if (url.includes('/bench/')) return 'bench app/harness';
  if (url.includes('node_modules/@nestjs/')) return 'Nest (@nestjs/*)';
  if (url.includes('node_modules/rxjs/')) return 'rxjs';
  if (url.includes('node_modules/')) return 'other node_modules';
  if (url.startsWith('node:')) return 'Node internals (node:*)';
  return 'other';
}

export function summarizeProfile(profile, { top = 30, root = '' } = {}) {
  const byId = new Map();
  const parent = new Map();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map();
  const total = new Map();
  const areas = new Map();
  let busy = 0;
  let idle = 0;
  const key = (n) => {
    const cf = n.callFrame;
    const url = cf.url.replace(/^file:\/\//, '').replace(root, '.');
    return `${cf.functionName || '(anonymous)'}  ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim();
  };
  const samples = profile.samples;
  const deltas = profile.timeDeltas;
  for (let i = 0; i < samples.length; i++) {
    const dt = deltas[i + 1] ?? 0; // time until the next sample is spent where this one was taken
    const n = byId.get(samples[i]);
    if (!n) continue;
    if (n.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    busy += dt;
    const k = key(n);
    self.set(k, (self.get(k) ?? 0) + dt);
    const a = area(n.callFrame.url, n.callFrame.functionName);
    areas.set(a, (areas.get(a) ?? 0) + dt);
    const seen = new Set();
    for (let id = samples[i]; id !== undefined; id = parent.get(id)) {
      const p = byId.get(id);
      if (p.callFrame.functionName === '(root)') break;
      const pk = key(p);
      if (seen.has(pk)) continue;
      seen.add(pk);
      total.set(pk, (total.get(pk) ?? 0) + dt);
    }
  }
  const pc = (x) => `${((100 * x) / busy).toFixed(1).padStart(5)}%`;
  const lines = [];
  lines.push(`busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms (percentages of busy time)`);
  lines.push('', 'self time by area:');
  for (const [a, t] of [...areas].sort((x, y) => y[1] - x[1])) lines.push(`  ${pc(t)}  ${a}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const [k, t] of [...self].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pc(t)}  ${k}`);
  lines.push('', `top ${top} functions by total (inclusive) time:`);
  for (const [k, t] of [...total].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pc(t)}  ${k}`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/cpuprofile-top.mjs <file.cpuprofile> [top]');
    process.exit(2);
  }
  const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
  console.log(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), { top: Number(process.argv[3] ?? 30), root }));
}
