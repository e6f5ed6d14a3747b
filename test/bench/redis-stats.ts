/**
 * What Redis itself spends on a run: its CPU time (`INFO cpu`) and the
 * commands it served (`INFO commandstats`), read before and after.
 */
import type { Redis } from 'ioredis';

export type RedisSample = { readonly cpuUs: number; readonly calls: ReadonlyMap<string, number> };

function fields(info: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of info.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) found.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return found;
}

export async function sampleRedis(client: Redis): Promise<RedisSample> {
  const cpu = fields(await client.info('cpu'));
  const cpuUs = (Number(cpu.get('used_cpu_user')) + Number(cpu.get('used_cpu_sys'))) * 1e6;
  const calls = new Map<string, number>();
  for (const [key, value] of fields(await client.info('commandstats'))) {
    const match = /^calls=(\d+)/.exec(value);
    if (key.startsWith('cmdstat_') && match) calls.set(key.slice('cmdstat_'.length), Number(match[1]));
  }
  return { cpuUs, calls };
}

/** CPU µs and commands between two samples, less the `INFO` calls that took them. */
export function redisDelta(before: RedisSample, after: RedisSample): { readonly cpuUs: number; readonly calls: Map<string, number> } {
  const calls = new Map<string, number>();
  for (const [name, count] of after.calls) {
    const delta = count - (before.calls.get(name) ?? 0) - (name === 'info' ? 2 : 0);
    if (delta > 0) calls.set(name, delta);
  }
  return { cpuUs: after.cpuUs - before.cpuUs, calls };
}
