import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');
const blocks = (lang: string) => [...readme.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);

// Every TypeScript block in the README is type-checked against the built package (as a user would
// import it), so the documentation cannot drift from the API.
describe('README', () => {
  it('has TypeScript examples, and every one compiles', () => {
    const code = blocks('ts');
    expect(code.length).toBeGreaterThanOrEqual(5);
    const config = ts.getParsedCommandLineOfConfigFile(`${root}tsconfig.json`, { noEmit: true }, ts.sys as unknown as ts.ParseConfigFileHost)!;
    const files = new Map(code.map((c, i) => [`${root}test/readme/readme-block-${i}.ts`, c]));
    const host = ts.createCompilerHost(config.options);
    const { fileExists, readFile, getSourceFile } = host;
    host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
    host.readFile = (f) => files.get(f) ?? readFile.call(host, f);
    host.getSourceFile = (f, lang, ...rest) =>
      files.has(f) ? ts.createSourceFile(f, files.get(f)!, lang) : getSourceFile.call(host, f, lang, ...rest);
    const program = ts.createProgram([...files.keys()], { ...config.options, noEmit: true }, host);
    const diags = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || files.has(d.file.fileName));
    const text = diags.map((d) => {
      const where = d.file ? `${d.file.fileName.replace(root, '')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(text).toEqual([]);
  }, 120_000);

  it('has no code block that no test compiles or runs (only ts and bash)', () => {
    const langs = [...readme.matchAll(/^```(\w*)$/gm)].map((m) => m[1]).filter((l, i) => i % 2 === 0);
    expect(langs.filter((l) => l !== 'ts' && l !== 'bash')).toEqual([]);
  });

  it('quick start: one command runs the example, one runs the tests, and CI runs that same test command', () => {
    const bash = blocks('bash').map((b) => b.trim());
    expect(bash).toContain('npm install && npm start');
    expect(bash).toContain('npm ci && npm test');
    const ci = readFileSync(`${root}.ci/run`, 'utf8');
    expect(ci).toMatch(/^npm ci && npm test$/m);
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> };
    for (const script of ['start', 'test', 'fuzz', 'bench', 'bench:codec']) expect(pkg.scripts[script], script).toBeTruthy();
  });

  it('documents every pool limit with its default', async () => {
    const { DEFAULT_LIMITS } = await import('nestjs-sip');
    for (const [name, value] of Object.entries(DEFAULT_LIMITS)) {
      const seconds = ['MIN_EXPIRE', 'MAX_EXPIRE', 'CONNECT_TIMEOUT'].includes(name);
      expect(readme, name).toMatch(new RegExp('`' + name + '`[^|]*\\|\\s*[^|]*' + (seconds ? `${value} s` : String(value))));
    }
  });
});
