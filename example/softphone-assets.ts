import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The softphone page on the HTTP port: example/softphone/ at `/` (index.html, app.js), and SIP.js
 * from node_modules at `/vendor/sip.js/` (its lib is plain ES modules without dependencies, so the
 * browser loads it as it is: no bundler, no CDN). Static files only, served by Express's
 * serve-static (no path leaves these two folders).
 */
export function serveSoftphone(app: INestApplication): { page: string; sipjs: string } {
  const web = app as NestExpressApplication;
  const page = softphoneDir();
  const sipjs = join(dirname(createRequire(import.meta.url).resolve('sip.js/package.json')), 'lib');
  // SIP.js is ~190 small modules, fixed for an installed version: cached for an hour, a page that
  // loads again does not fetch them again.
  web.useStaticAssets(sipjs, { prefix: '/vendor/sip.js/', index: false, dotfiles: 'deny', maxAge: '1h' });
  web.useStaticAssets(page, { index: 'index.html', dotfiles: 'deny' });
  return { page, sipjs };
}

/**
 * The page's folder: beside this file when it runs from source (example/), and in example/ when it
 * runs built (dist-example/ holds only what tsc emits).
 */
function softphoneDir(): string {
  for (const rel of ['./softphone/', '../example/softphone/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  throw new Error('the softphone page (example/softphone/index.html) is missing');
}
