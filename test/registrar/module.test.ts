import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MemoryLocationStore, SipRegistrar, SipRegistrarModule } from 'nestjs-sip';
import { registerRequest } from './register-request.js';

describe('SipRegistrarModule', () => {
  it('forRoot provides SipRegistrar everywhere with its options; the application shutdown closes the store', async () => {
    const store = new MemoryLocationStore();
    let closed = 0;
    store.close = async () => void closed++;
    const app = await Test.createTestingModule({ imports: [SipRegistrarModule.forRoot({ store, minExpires: 120 })] }).compile();
    const registrar = app.get(SipRegistrar);
    expect(registrar.store).toBe(store);
    const r = await registrar.register(registerRequest({ contacts: ['<sip:a@192.0.2.1>'], expires: 60 }));
    expect(r).toMatchObject({ status: 423, headers: { 'Min-Expires': 120 } });
    app.enableShutdownHooks();
    await app.close();
    expect(closed).toBe(1);
  });

  it('forRootAsync takes its options from a factory with injections; store failures reach the options\' onStoreError', async () => {
    const errors: string[] = [];
    const app = await Test.createTestingModule({
      imports: [
        SipRegistrarModule.forRootAsync({
          useFactory: (name: string) => ({
            node: name,
            store: { get: async () => Promise.reject(new Error('down')), update: async () => Promise.reject(new Error('down')) },
            onStoreError: (e: Error) => errors.push(e.message),
          }),
          inject: ['NODE_NAME'],
          imports: [{ module: class NodeName {}, providers: [{ provide: 'NODE_NAME', useValue: 'node-7' }], exports: ['NODE_NAME'] }],
        }),
      ],
    }).compile();
    const registrar = app.get(SipRegistrar);
    expect(registrar.node).toBe('node-7');
    expect((await registrar.lookup('sip:alice@example.test')).status).toBe(500);
    expect(errors).toEqual(['down']);
    await app.close();
  });

  it('redis stays optional: no source file imports it, only RedisLocationStore loads it at run time, and only with a url', () => {
    const src = fileURLToPath(new URL('../../src/', import.meta.url));
    const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const importers = files.filter((f) => /from\s+['"]redis['"]|import\s+['"]redis['"]|import\(\s*['"]redis['"]\s*\)|require\(\s*['"]redis['"]\s*\)/.test(readFileSync(join(src, f), 'utf8')));
    expect(importers).toEqual([]);
    expect(readFileSync(join(src, 'registrar/redis-location-store.ts'), 'utf8')).toContain("const REDIS_MODULE = 'redis';");
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { peerDependenciesMeta: Record<string, { optional?: boolean }>; dependencies?: Record<string, string> };
    expect(pkg.peerDependenciesMeta.redis?.optional).toBe(true);
    expect(pkg.dependencies?.redis).toBeUndefined();
  });
});
