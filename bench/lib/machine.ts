import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Redis as IORedis } from 'ioredis';
import { packageVersion, showSettings } from './pg.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  loadavg: number[];
}

export function machineInfo(): MachineInfo {
  let osName = `${os.type()} ${os.release()}`;
  try {
    const pretty = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    if (pretty) osName = `${pretty} (${os.release()})`;
  } catch {}
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName,
    node: process.version,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export async function redisVersion(url: string): Promise<string> {
  const conn = new IORedis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await conn.connect();
    return /redis_version:(\S+)/.exec(await conn.info('server'))?.[1] ?? 'unknown';
  } catch {
    return 'unreachable';
  } finally {
    conn.disconnect();
  }
}

export async function environment(pgUrl: string, redisUrl: string) {
  return {
    machine: machineInfo(),
    postgres: await showSettings(pgUrl),
    versions: {
      node: process.version,
      gaffer: packageVersion('..'),
      'graphile-worker': packageVersion('graphile-worker'),
      'pg-boss': packageVersion('pg-boss'),
      bullmq: packageVersion('bullmq'),
      ioredis: packageVersion('ioredis'),
      pg: packageVersion('pg'),
      '@electric-sql/pglite': packageVersion('@electric-sql/pglite'),
      redis: await redisVersion(redisUrl),
    },
  };
}

/** Peak resident set size (VmHWM) of a process, in MB; undefined if it is gone. */
export function peakRssMb(pid: number): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
