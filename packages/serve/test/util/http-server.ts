// Test helpers for the HTTP server: start one on 127.0.0.1:0 with an OpenAI client pointed at it, pace an
// in-thread engine (one step per tick) so tests can act mid-generation, and read SSE by hand.
import OpenAI from 'openai';
import { createServer, Engine, type ServerOptions, type StellarServer } from '../../src';

export interface Running { server: StellarServer; url: string; client: OpenAI }

export async function startServer(opts: ServerOptions): Promise<Running> {
  const server = createServer({ port: 0, ...opts });
  const { url } = await server.listen();
  const client = new OpenAI({ apiKey: opts.apiKey ?? 'unused', baseURL: `${url}/v1`, maxRetries: 0, timeout: 30_000 });
  return { server, url, client };
}

/** An in-thread engine that steps every `ms` ms, so a test sees streams mid-way (stop() ends the pacing). */
export function pacedEngine(dir: string, ms: number, opts: Partial<Parameters<typeof Engine.load>[0]> = {}): { engine: Engine; stop: () => void } {
  const engine = Engine.load({ model: dir, autoRun: false, ...opts });
  const timer = setInterval(() => { try { engine.step(); } catch { /* closed */ } }, ms);
  return { engine, stop: () => clearInterval(timer) };
}

/** POST JSON (or a raw string body) with fetch; returns status and parsed JSON (or text). */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

/** The `data:` payloads of an SSE body, in order. */
export function sseData(text: string): string[] {
  return text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice(6));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it returns true (or fails after `ms`). */
export async function until(f: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
