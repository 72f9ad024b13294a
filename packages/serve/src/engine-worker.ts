// Worker-thread entry: loads an Engine (autoRun) from workerData and serves EngineClient's messages.
// All compute happens here, so the main thread's event loop (HTTP) never waits on a forward pass.
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from './engine';
import { asEngineError } from './errors';
import type { FromWorker, ToWorker, WorkerData } from './protocol';
import type { RequestHandle } from './stream';

const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
let engine: Engine;
try {
  engine = Engine.load({ ...(workerData as WorkerData).options, autoRun: true });
  post({ type: 'ready', info: engine.info });
} catch (e) {
  post({ type: 'load-error', error: asEngineError(e).toJSON() });
  port.close();
}
const handles = new Map<number, RequestHandle>();

async function forward(id: number, h: RequestHandle): Promise<void> {
  try {
    for await (const ev of h) post({ type: 'events', id, events: [ev] });
  } catch (e) {
    post({ type: 'failed', id, error: asEngineError(e).toJSON() });
  } finally {
    handles.delete(id);
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'submit': {
      let h: RequestHandle;
      try { h = engine.submit(m.request); } catch (e) { post({ type: 'rejected', id: m.id, error: asEngineError(e).toJSON() }); return; }
      handles.set(m.id, h);
      post({ type: 'accepted', id: m.id, promptTokens: h.promptTokens });
      void forward(m.id, h);
      return;
    }
    case 'cancel':
      handles.get(m.id)?.cancel();
      return;
    case 'call': {
      try {
        const [a, b] = m.args as [never, never];
        const value = m.method === 'metrics' ? engine.metrics() : m.method === 'tokenize' ? engine.tokenize(a, b) : m.method === 'tokenBytes' ? engine.tokenBytes(a) : engine.detokenize(a, b);
        post({ type: 'reply', id: m.id, value });
      } catch (e) {
        post({ type: 'reply', id: m.id, error: asEngineError(e).toJSON() });
      }
      return;
    }
    case 'close':
      engine.close();
      // the cancelled requests' final events are delivered before 'closed'
      setImmediate(() => { post({ type: 'closed' }); port.close(); });
  }
});
