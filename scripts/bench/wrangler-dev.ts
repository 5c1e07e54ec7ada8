// `wrangler dev` for the bench: started in its own process group (so stopping it also stops the
// workerd processes it spawns), on free loopback ports, with its own persisted state, and the
// bench routes switched on. Linux only for the /proc parts (workerd's pid, its sockets and RSS).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { WRANGLER_ENV } from './bundle.ts';

export interface DevServer {
  child: ChildProcess;
  pgid: number;
  base: string;
  inspectorPort: number;
  log: string;
  startedAt: number;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Serves `script` (a bundle from `wrangler deploy --dry-run --outdir`) with --no-bundle: the bench
 * measures exactly what would be deployed, and edits to the sources (other people's, mid-run) do
 * not reload the worker under the bench.
 */
export async function startWranglerDev(options: { root: string; script: string; persistTo: string; log: string; vars: Record<string, string> }): Promise<DevServer> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = ['dev', options.script, '--no-bundle', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort), '--inspector-ip', '127.0.0.1', '--persist-to', options.persistTo, '--show-interactive-dev-session=false'];
  for (const [name, value] of Object.entries(options.vars)) args.push('--var', `${name}:${value}`);
  const fd = openSync(options.log, 'w');
  const child = spawn(join(options.root, 'node_modules', '.bin', 'wrangler'), args, {
    cwd: options.root,
    // detached: setsid(), a process group of its own, stopped as a whole in stopWranglerDev
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...WRANGLER_ENV, CI: '1' },
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error('could not start wrangler dev');
  return { child, pgid: child.pid, base: `http://127.0.0.1:${port}`, inspectorPort, log: options.log, startedAt: performance.now() };
}

/** Waits until `path` answers 2xx; returns the ms since the server was started. */
export async function waitUntilReady(server: DevServer, path: string, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`wrangler dev exited with ${server.child.exitCode}; see ${server.log}`);
    try {
      const res = await fetch(new URL(path, server.base), { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (res.ok) return performance.now() - server.startedAt;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`wrangler dev did not answer ${path} within ${timeoutMs / 1000} s; see ${server.log}`);
}

/** SIGTERM to the whole process group, then SIGKILL for anything left after a grace period. */
export async function stopWranglerDev(server: DevServer): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-server.pgid, sig);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  if (!signal('SIGTERM')) return;
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if ((await groupPids(server.pgid)).length === 0) return;
  }
  signal('SIGKILL');
}

/** Pids whose process group is `pgid` (from /proc/<pid>/stat). */
export async function groupPids(pgid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) pids.push(Number(name));
  }
  return pids;
}

/**
 * The workerd process that runs the user worker. wrangler dev runs two: a proxy on the public
 * port, and the worker itself (the one with an inspector).
 */
export async function workerProcess(server: DevServer): Promise<number | undefined> {
  for (const pid of await groupPids(server.pgid)) {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (cmdline[0]?.endsWith('workerd') && cmdline.some((a) => a.startsWith('--inspector-addr'))) return pid;
  }
  return undefined;
}

/**
 * Loopback TCP ports `pid` listens on, in the order of its socket file descriptors (workerd opens
 * its inspector, then the entry socket, then its capnp debug port).
 */
export async function listeningPorts(pid: number): Promise<number[]> {
  const inodes: Array<{ fd: number; inode: string }> = [];
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.push({ fd: Number(fd), inode: match[1]! });
  }
  const listening = new Map<string, number>();
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 10 && cols[3] === '0A') listening.set(cols[9]!, parseInt(cols[1]!.split(':')[1]!, 16)); // 0A = LISTEN
  }
  return inodes
    .sort((a, b) => a.fd - b.fd)
    .filter((s) => listening.has(s.inode))
    .map((s) => listening.get(s.inode)!);
}

/**
 * The worker's own entry socket, bypassing wrangler's proxy: the first port of the worker's
 * workerd that answers `probePath` with {} (probing stops there, before the capnp debug port,
 * which would only log a broken-connection warning). undefined when it cannot be found (not Linux,
 * or a change in how wrangler runs workerd).
 */
export async function directEntry(server: DevServer, probePath: string): Promise<string | undefined> {
  const pid = await workerProcess(server);
  if (pid === undefined) return undefined;
  for (const port of await listeningPorts(pid)) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${probePath}`, { signal: AbortSignal.timeout(2_000) });
      const text = await res.text();
      if (res.ok && text === '{}') return `http://127.0.0.1:${port}`;
    } catch {
      // not HTTP
    }
  }
  return undefined;
}

/** VmRSS and VmHWM of a process in MiB, from /proc/<pid>/status. */
export async function processMemory(pid: number): Promise<{ rss_mb: number; peak_rss_mb: number } | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  if (!status) return undefined;
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss_mb: kb('VmRSS') / 1024, peak_rss_mb: kb('VmHWM') / 1024 };
}
