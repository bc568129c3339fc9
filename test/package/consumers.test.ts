// What users install (issue 18 §4): the packed tarball in fresh projects, from the npm registry —
// an ESM TypeScript project (module nodenext) and a CommonJS one (module commonjs, as `nest new`
// makes it) on Nest 12, and a project on Nest 11. Each compiles a controller and runs it: a SIP
// OPTIONS through the project's own SipServer, sent by its own SipClient, answered 200.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsVersion = (JSON.parse(execFileSync(npm, ['pkg', 'get', 'devDependencies.typescript'], { cwd: root, encoding: 'utf8' })) as string).replace(/^[~^]/, '');

const controller = `import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { SipClient, SipServer, type SipRequest, type SipResponseDescription } from 'nestjs-sip';

@Controller()
class Ping {
  @MessagePattern('OPTIONS')
  options(@Payload() req: SipRequest): SipResponseDescription {
    return { status: 200, headers: { Subject: req.method } };
  }
}

@Module({ controllers: [Ping] })
class AppModule {}

async function main(): Promise<void> {
  const server = new SipServer({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }] });
  const app = await NestFactory.createMicroservice(AppModule, { strategy: server, logger: ['error'] });
  await app.listen();
  const client = new SipClient({ localHost: '127.0.0.1' });
  const res = await lastValueFrom(client.send('OPTIONS', { uri: \`sip:ping@127.0.0.1:\${server.addresses[0]!.port}\` }));
  console.log(\`answered \${res.status} \${res.headers.get('subject')}\`);
  await client.close();
  await app.close();
}
void main();
`;

function run(cmd: string, args: string[], cwd: string, timeout = 240_000): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

function project(dir: string, pkg: object, tsconfig: object): void {
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  writeFileSync(join(dir, 'src', 'main.ts'), controller);
}

describe('consumers of the packed package', () => {
  let work: string;
  let tarball: string;
  beforeAll(() => {
    expect(existsSync(`${root}dist/index.js`), 'run `npm run build` first').toBe(true);
    work = mkdtempSync(join(tmpdir(), 'nestjs-sip-consumers-'));
    // dist/ is built by `npm test`; --ignore-scripts skips the prepack build.
    run(npm, ['pack', '--ignore-scripts', '--pack-destination', work], root);
    tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
  }, 120_000);
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const compilerOptions = { strict: true, experimentalDecorators: true, emitDecoratorMetadata: true, skipLibCheck: false, outDir: 'dist', rootDir: 'src', target: 'es2022', types: ['node'] };
  const deps = (nest: 11 | 12) => [tarball, `@nestjs/common@${nest}`, `@nestjs/core@${nest}`, `@nestjs/microservices@${nest}`, 'reflect-metadata', 'rxjs', `typescript@${tsVersion}`, '@types/node@22'];
  // One install for both Nest 12 projects: they sit below it and resolve its node_modules.
  let nest12: string | undefined;
  const installNest12 = (): string => {
    if (nest12 === undefined) {
      nest12 = join(work, 'nest12');
      mkdirSync(nest12, { recursive: true });
      writeFileSync(join(nest12, 'package.json'), JSON.stringify({ name: 'nest12-consumers', private: true }));
      run(npm, ['install', '--no-package-lock', ...deps(12)], nest12);
    }
    return nest12;
  };
  const tsc = (dir: string, base: string) => run(process.execPath, [join(base, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir);

  it('an ESM TypeScript project (module nodenext) on Nest 12 compiles and runs a handler', () => {
    const base = installNest12();
    const dir = join(base, 'esm');
    project(dir, { name: 'esm-consumer', private: true, type: 'module' }, { compilerOptions: { ...compilerOptions, module: 'nodenext', moduleResolution: 'nodenext' } });
    tsc(dir, base);
    expect(run(process.execPath, [join(dir, 'dist', 'main.js')], dir)).toContain('answered 200 OPTIONS');
  }, 300_000);

  it('a CommonJS project (module commonjs, moduleResolution bundler for the types) on Nest 12 compiles and runs a handler', () => {
    const base = installNest12();
    const dir = join(base, 'cjs');
    project(dir, { name: 'cjs-consumer', private: true }, { compilerOptions: { ...compilerOptions, module: 'commonjs', moduleResolution: 'bundler' } });
    tsc(dir, base);
    expect(run(process.execPath, [join(dir, 'dist', 'main.js')], dir)).toContain('answered 200 OPTIONS');
  }, 300_000);

  it('a project on Nest 11 runs a handler and a client (no Nest 12 API needed)', () => {
    const dir = join(work, 'nest11');
    project(dir, { name: 'nest11-consumer', private: true, type: 'module' }, { compilerOptions: { ...compilerOptions, module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true } });
    run(npm, ['install', '--no-package-lock', ...deps(11)], dir);
    expect(run(process.execPath, ['-p', "require('@nestjs/microservices/package.json').version"], dir)).toMatch(/^11\./);
    tsc(dir, dir);
    expect(run(process.execPath, [join(dir, 'dist', 'main.js')], dir)).toContain('answered 200 OPTIONS');
  }, 300_000);
});
