import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  cert: string;
  key: string;
}

export interface TestPki {
  /** The test CA every good certificate chains to. */
  ca: string;
  /** Pool A / pool B credentials: CN localhost, SAN localhost, 127.0.0.1, ::1; server and client use. */
  a: Pem;
  b: Pem;
  /** Signed by the test CA but only for "other.example": fails host-name checks on loopback. */
  wrongName: Pem;
  /** A certificate of another CA (with loopback SANs): fails verification against `ca`. */
  rogue: Pem;
  rogueCa: string;
  /** The extra leaves asked for by name (signed by the test CA, SANs as given). */
  extra: Record<string, Pem>;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * Make a small PKI with the openssl CLI in a temp dir (EC keys: fast), read it, delete the dir.
 * Test-only material, never committed.
 */
export function makeTestPki(extra: Record<string, string> = {}): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'sip-pki-'));
  const f = (n: string): string => join(dir, n);
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe' });
  };
  try {
    const ca = (name: string): void =>
      ossl('req', '-x509', ...EC, '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-days', '36500', '-subj', `/CN=${name}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const leaf = (name: string, caName: string, san: string): Pem => {
      writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`);
      ossl('req', ...EC, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
      ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${caName}.crt`), '-CAkey', f(`${caName}.key`),
        '-set_serial', String(Math.floor(Math.random() * 1e12)), '-days', '36500', '-out', f(`${name}.crt`), '-extfile', f(`${name}.ext`));
      return { cert: readFileSync(f(`${name}.crt`), 'utf8'), key: readFileSync(f(`${name}.key`), 'utf8') };
    };
    const loop = 'DNS:localhost,IP:127.0.0.1,IP:::1';
    ca('testca');
    ca('rogueca');
    return {
      ca: readFileSync(f('testca.crt'), 'utf8'),
      a: leaf('a', 'testca', loop),
      b: leaf('b', 'testca', loop),
      wrongName: leaf('wrongname', 'testca', 'DNS:other.example'),
      rogue: leaf('rogue', 'rogueca', loop),
      rogueCa: readFileSync(f('rogueca.crt'), 'utf8'),
      extra: Object.fromEntries(Object.entries(extra).map(([name, san]) => [name, leaf(`extra-${name}`, 'testca', san)])),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
