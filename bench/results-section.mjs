// Each part of `npm run bench` writes its own section of bench/RESULTS.md, between its start and end
// markers (`<!-- name: start ... -->`, `<!-- name: end -->`); the rest of the file is kept.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILE = join(dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');
const ROOT = dirname(dirname(FILE));

/**
 * The code a section measured: HEAD's short hash, plus how many files under `paths` differ from it
 * (RESULTS.md itself, which the bench writes while it runs, is not counted); '?' without git.
 */
export function codeVersion(paths) {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', ...paths, ':!bench/RESULTS.md'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} + uncommitted changes in ${paths.join(', ')} (${dirty.split('\n').length} files)` : head;
  } catch {
    return '?';
  }
}

/** Put `section` (which starts with `start` and ends with `end`) in place of the old one, or at the end. */
export function writeResultsSection(section, start, end) {
  const md = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '# Benchmark results\n';
  const a = md.indexOf(start);
  const b = md.indexOf(end);
  writeFileSync(FILE, a >= 0 && b > a ? md.slice(0, a) + section + md.slice(b + end.length) : `${md.trimEnd()}\n\n${section}\n`);
}
