import { readFileSync } from 'node:fs';
import { digestAlgorithm, type DigestAlgorithm, type StoredSecret } from 'nestjs-sip';

/** What the example knows of each user: a password, or HA1 values per algorithm. */
export type UserTable = Map<string, { password?: string; ha1: Partial<Record<'MD5' | 'SHA-256', string>> }>;

const HEX = /^[0-9a-f]+$/i;

/**
 * The users of SIP_USERS (`alice:secret,bob:hunter2`) and SIP_USERS_FILE (one `user:secret` per
 * line; `#` comments and blank lines ignored). A secret of 32 hex digits is an MD5 HA1, of 64 a
 * SHA-256 HA1 (`H(user:realm:password)`, the recommended form: the file then holds no password);
 * anything else is the password. A user may have one line per HA1 algorithm.
 */
export function loadUsers(env: NodeJS.ProcessEnv): UserTable | undefined {
  const entries: string[] = [];
  if (env.SIP_USERS) entries.push(...env.SIP_USERS.split(','));
  if (env.SIP_USERS_FILE) entries.push(...readFileSync(env.SIP_USERS_FILE, 'utf8').split(/\r?\n/));
  if (entries.length === 0) return undefined;
  const users: UserTable = new Map();
  for (const raw of entries) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0 || colon === line.length - 1) throw new Error(`a user entry must be user:password or user:ha1, got ${JSON.stringify(line.slice(0, 40))}`);
    const name = line.slice(0, colon);
    const secret = line.slice(colon + 1);
    const u = users.get(name) ?? { ha1: {} };
    if (HEX.test(secret) && secret.length === 32) u.ha1.MD5 = secret.toLowerCase();
    else if (HEX.test(secret) && secret.length === 64) u.ha1['SHA-256'] = secret.toLowerCase();
    else u.password = secret;
    users.set(name, u);
  }
  if (users.size === 0) throw new Error('SIP_USERS / SIP_USERS_FILE name no user');
  return users;
}

/** The credentials lookup over a user table: the HA1 for the algorithm answered with, else the password. */
export function lookupIn(users: UserTable): (user: string, realm: string, algorithm: DigestAlgorithm) => StoredSecret | undefined {
  return (user, _realm, algorithm) => {
    const u = users.get(user);
    if (u === undefined) return undefined;
    const ha1 = algorithm === 'MD5' || algorithm === 'SHA-256' ? u.ha1[algorithm] : undefined;
    if (ha1 !== undefined) return { ha1, algorithm };
    return u.password;
  };
}

/** SIP_AUTH_ALGORITHMS: which digest algorithms the example offers (MD5, SHA-256), strongest first. */
export function parseAlgorithms(v: string | undefined): DigestAlgorithm[] {
  if (!v) return ['MD5'];
  return v.split(',').map((name) => {
    const a = digestAlgorithm(name.trim());
    if (a !== 'MD5' && a !== 'SHA-256') throw new Error(`SIP_AUTH_ALGORITHMS: unknown algorithm ${JSON.stringify(name.trim().toUpperCase())} (MD5, SHA-256)`);
    return a;
  });
}
