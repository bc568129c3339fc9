#!/usr/bin/env node
// nestjs-sip deployment kit: N instances of the app on one host, one port each, behind Kamailio
// (deploy/kamailio/kamailio.cfg). Instance i (0-based) gets SIP (UDP and TCP) on sip-port + i,
// HTTP (/metrics, /health) on http-port + i and the media ports media-ports + i * media-span ...
// The rest of the environment is passed to every instance unchanged (SIP_CALLS, SIP_USERS,
// SIP_AUTH_SECRET, LOG_FORMAT, SIP_REDIS_URL...). It writes Kamailio's dispatcher.list for the
// instances, prints one line per instance (its pid and ports), prefixes their output with
// [i], reports once every instance answers an OPTIONS, forwards SIGINT/SIGTERM to them and exits
// when they have. An instance that dies is left dead (Kamailio routes around it) unless --restart.
// It is a one-host tool: on several hosts, run the app under systemd or compose (see README.md).
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = `usage: node deploy/run-instances.mjs [options]   (each option also from the environment)
  -n, --instances N        how many (INSTANCES; default: the number of cores)
  --host ADDR              address the instances listen on (SIP_HOST; 127.0.0.1)
  --sip-port P             first instance's SIP port, UDP and TCP; the next ones follow (SIP_BASE_PORT; 5070)
  --http-port P|off        first instance's HTTP port (HTTP_BASE_PORT; 8081)
  --media-ports P          first instance's first RTP port (MEDIA_BASE_PORT; 20000)
  --media-span K           RTP ports per instance (MEDIA_SPAN; 200)
  --dispatcher-list FILE   write Kamailio's dispatcher.list here (DISPATCHER_LIST; none)
  --dispatcher-host ADDR   the instances' address in that list (DISPATCHER_HOST; --host)
  --set ID                 the dispatcher set (DISPATCHER_SET; 1)
  --restart                start a dead instance again after a second (RESTART=1)
  --app FILE               the app's entry point (APP; dist-example/main.js)
  --dry-run                print the plan and write the dispatcher list, start nothing
  -h, --help               this text`;

const env = process.env;
let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      instances: { type: 'string', short: 'n', default: env.INSTANCES || String(availableParallelism()) },
      host: { type: 'string', default: env.SIP_HOST || '127.0.0.1' },
      'sip-port': { type: 'string', default: env.SIP_BASE_PORT || '5070' },
      'http-port': { type: 'string', default: env.HTTP_BASE_PORT || '8081' },
      'media-ports': { type: 'string', default: env.MEDIA_BASE_PORT || '20000' },
      'media-span': { type: 'string', default: env.MEDIA_SPAN || '200' },
      'dispatcher-list': { type: 'string', default: env.DISPATCHER_LIST || '' },
      'dispatcher-host': { type: 'string', default: env.DISPATCHER_HOST || '' },
      set: { type: 'string', default: env.DISPATCHER_SET || '1' },
      restart: { type: 'boolean', default: env.RESTART === '1' || env.RESTART === 'true' },
      app: { type: 'string', default: env.APP || fileURLToPath(new URL('../dist-example/main.js', import.meta.url)) },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (err) {
  fail(`${err.message}\n${USAGE}`);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

function fail(msg) {
  console.error(`run-instances: ${msg}`);
  process.exit(2);
}
function log(msg) {
  console.log(`run-instances: ${msg}`);
}
function int(name, v, min, max) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

const count = int('instances', opts.instances, 1, 256);
const sipBase = int('sip-port', opts['sip-port'], 1, 65535 - count + 1);
const httpBase = opts['http-port'] === 'off' ? undefined : int('http-port', opts['http-port'], 1, 65535 - count + 1);
const span = int('media-span', opts['media-span'], 2, 65535);
const mediaBase = int('media-ports', opts['media-ports'], 1, 65535 - count * span + 1);
const setId = int('set', opts.set, 0, 2 ** 31 - 1);
const host = opts.host;
const wildcard = host === '0.0.0.0' || host === '::';
const dsHost = opts['dispatcher-host'] || (wildcard ? '' : host);
if (opts['dispatcher-list'] && dsHost === '') fail(`--host ${host} is a wildcard: name the instances' address for Kamailio with --dispatcher-host`);
const probeHost = wildcard ? (host === '::' ? '::1' : '127.0.0.1') : host;
const bracket = (h) => (isIPv6(h) ? `[${h}]` : h);

if (count > 1 && !env.SIP_REDIS_URL) {
  // The example keeps registrations (and digest nonce-counts) in Redis when SIP_REDIS_URL is set.
  log('SIP_REDIS_URL is not set: each instance keeps its own registrations (a call to a user registered on another instance is not found)');
}

/** @type {{ index: number, sipPort: number, httpPort?: number, media: string, child?: import('node:child_process').ChildProcess, ready: boolean }[]} */
const instances = [];
for (let i = 0; i < count; i++) {
  const first = mediaBase + i * span;
  instances.push({ index: i, sipPort: sipBase + i, httpPort: httpBase === undefined ? undefined : httpBase + i, media: `${first}-${first + span - 1}`, ready: false });
}

if (opts['dispatcher-list']) {
  const lines = [
    '# Kamailio dispatcher.list written by deploy/run-instances.mjs',
    '# setid destination flags priority attributes',
    // Over UDP, unless the instances have no UDP leg.
    ...instances.map((it) => `${setId} sip:${bracket(dsHost)}:${it.sipPort}${env.SIP_UDP_PORT === 'off' ? ';transport=tcp' : ''} 0 0 duid=instance-${it.index}`),
  ];
  // Written whole, then renamed: Kamailio never reads half a list.
  const tmp = `${opts['dispatcher-list']}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, lines.join('\n') + '\n');
  renameSync(tmp, opts['dispatcher-list']);
  log(`dispatcher list ${opts['dispatcher-list']} (set ${setId}, ${count} destinations)`);
}

if (opts['dry-run']) {
  for (const it of instances) log(`instance ${it.index} (dry run) sip ${bracket(host)}:${it.sipPort} http ${it.httpPort ?? 'off'} media ${it.media}`);
  process.exit(0);
}

let stopping = false;

function start(it) {
  const childEnv = {
    ...env,
    SIP_HOST: host,
    SIP_UDP_PORT: env.SIP_UDP_PORT === 'off' ? 'off' : String(it.sipPort),
    SIP_TCP_PORT: env.SIP_TCP_PORT === 'off' ? 'off' : String(it.sipPort),
    HTTP_PORT: it.httpPort === undefined ? 'off' : String(it.httpPort),
    SIP_MEDIA_PORTS: it.media,
    // SIP_REDIS_URL, SIP_AUTH_SECRET, SIP_FRONT_PROXIES...: the same for every instance, from env.
  };
  const child = spawn(process.execPath, [opts.app], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  it.child = child;
  it.ready = false;
  for (const stream of [child.stdout, child.stderr]) prefixLines(stream, `[${it.index}] `, stream === child.stderr ? process.stderr : process.stdout);
  log(`instance ${it.index} pid ${child.pid} sip ${bracket(host)}:${it.sipPort} http ${it.httpPort ?? 'off'} media ${it.media}`);
  child.on('error', (err) => log(`instance ${it.index}: ${err.message}`));
  child.on('exit', (code, signal) => {
    it.child = undefined;
    log(`instance ${it.index} pid ${child.pid} exited (${code !== null ? `code ${code}` : `signal ${signal}`})`);
    if (!stopping && opts.restart) {
      log(`instance ${it.index}: starting it again in 1 s`);
      setTimeout(() => {
        if (!stopping) {
          start(it);
          void waitReady([it], false);
        }
      }, 1000);
    }
    if (instances.every((x) => x.child === undefined) && (stopping || !opts.restart)) {
      log(stopping ? 'all instances stopped' : 'every instance has exited');
      process.exit(stopping ? 0 : 1);
    }
  });
}

function prefixLines(stream, prefix, out) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop();
    if (parts.length > 0) out.write(parts.map((l) => prefix + l).join('\n') + '\n');
  });
  stream.on('end', () => {
    if (rest !== '') out.write(prefix + rest + '\n');
  });
}

/** One OPTIONS over UDP; true on a 200 within `ms`. */
function probe(port, ms) {
  return new Promise((resolve) => {
    const s = dgram.createSocket(isIPv6(probeHost) ? 'udp6' : 'udp4');
    const id = randomBytes(8).toString('hex');
    const done = (ok) => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    s.on('error', () => done(false));
    s.on('message', (b) => {
      if (b.toString('latin1').startsWith('SIP/2.0 200 ')) done(true);
    });
    s.bind(0, probeHost, () => {
      const local = s.address().port;
      const msg =
        `OPTIONS sip:${bracket(probeHost)}:${port} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP ${bracket(probeHost)}:${local};branch=z9hG4bK-${id};rport\r\n` +
        `Max-Forwards: 70\r\nFrom: <sip:run-instances@invalid>;tag=${id}\r\nTo: <sip:${bracket(probeHost)}:${port}>\r\n` +
        `Call-ID: ${id}@run-instances\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
      s.send(msg, port, probeHost);
    });
  });
}

/** Probe `list` until each answers; report all of them (`initial`) or each one (a restart). */
async function waitReady(list, initial) {
  const deadline = Date.now() + 60_000;
  for (const it of list) {
    if (env.SIP_UDP_PORT === 'off') break; // no UDP leg to probe
    while (!stopping && it.child !== undefined && Date.now() < deadline && !(await probe(it.sipPort, 250))) await new Promise((r) => setTimeout(r, 100));
    it.ready = it.child !== undefined && Date.now() < deadline;
  }
  if (stopping) return;
  const ready = list.filter((it) => it.ready).length;
  if (initial) log(`${ready} of ${instances.length} instances ready`);
  else for (const it of list) log(`instance ${it.index} ${it.ready ? 'ready' : 'not ready'}`);
}

function stop(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping ${instances.filter((it) => it.child).length} instances`);
  for (const it of instances) it.child?.kill(signal);
  // Calls in progress get their BYE (the app hangs up on SIGTERM); a hung instance is killed.
  setTimeout(() => {
    for (const it of instances) it.child?.kill('SIGKILL');
  }, 15_000).unref();
  if (instances.every((it) => it.child === undefined)) process.exit(0);
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

for (const it of instances) start(it);
void waitReady(instances, true);
