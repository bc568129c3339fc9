import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The layers each layer may import (DESIGN.md §2: message < transport < transaction < dialog < {auth, proxy, registrar, observe} < nest; entry points such as prometheus.ts sit beside index.ts). */
const ALLOWED: Record<string, string[]> = {
  message: [],
  transport: ['message'],
  transaction: ['message', 'transport'],
  dialog: ['message', 'transport', 'transaction'],
  auth: ['message', 'transport', 'transaction', 'dialog'],
  proxy: ['message', 'transport', 'transaction', 'dialog'],
  registrar: ['message', 'transport', 'transaction', 'dialog'],
  observe: ['message', 'transport', 'transaction', 'dialog'],
  nest: ['message', 'transport', 'transaction', 'dialog', 'auth', 'proxy', 'registrar', 'observe'],
};

describe('layering', () => {
  it('each layer imports only the layers below it (message < transport < transaction < dialog < auth, proxy, registrar < nest), and only index.ts imports nest', () => {
    const violations: string[] = [];
    let seen = 0;
    for (const file of files(src)) {
      const rel = relative(src, file);
      const layer = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : 'index';
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"](\.[^'"]+)['"]/gm)) {
        seen++;
        const target = relative(src, join(file, '..', m[1]!));
        const to = target.includes('/') ? target.slice(0, target.indexOf('/')) : 'index';
        if (to === layer || layer === 'index') continue;
        if (!(ALLOWED[layer] ?? []).includes(to)) violations.push(`${rel} imports ${target}`);
      }
    }
    expect(seen).toBeGreaterThan(50); // the scan really reads the imports
    expect(violations).toEqual([]);
  });
});
