// A bench server in a child process (fork, IPC), as bench/apps/harness.mjs speaks it: 'ready' once
// listening, then `call('mark', 'marked')`, `call('report', 'report')`, and `stop()` (SIGKILL if it
// has not exited 10 s after 'stop').
import { fork } from 'node:child_process';

/**
 * @param {string} app   path of the server script
 * @param {object} env   its whole environment
 * @param {string} name  for error messages
 * @param {string} cwd
 */
export function forkServer(app, env, name, cwd) {
  const child = fork(app, [], { cwd, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiters = [];
  child.on('message', (m) => {
    const i = waiters.findIndex((w) => w.type === m?.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(m);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve({ code, sig })));
  const wait = (type, ms = 20000) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${name}: no '${type}' within ${ms} ms`)), ms);
      const w = { type, resolve: (m) => (clearTimeout(t), resolve(m)) };
      waiters.push(w);
      void exited.then(({ code, sig }) => {
        clearTimeout(t);
        reject(new Error(`${name} exited (${code ?? sig}) while waiting for '${type}'`));
      });
    });
  const ready = wait('ready');
  return {
    child,
    ready,
    async call(cmd, type) {
      const p = wait(type);
      child.send({ cmd });
      return p;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ cmd: 'stop' });
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
    },
  };
}
