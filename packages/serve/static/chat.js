// Stellar chat page logic: keeps the conversation, streams answers from /v1/chat/completions (fetch +
// SSE parsing), and aborts the fetch on Stop, which makes the server cancel the generation.
'use strict';

const $ = (id) => document.getElementById(id);
const els = {
  messages: $('messages'), form: $('composer'), input: $('input'), send: $('send'), stop: $('stop'), reset: $('reset'),
  system: $('system'), temperature: $('temperature'), topP: $('top-p'), maxTokens: $('max-tokens'),
  apiKey: $('api-key'), apiKeyRow: $('api-key-row'), modelInfo: $('model-info'), status: $('status'),
};

/** The conversation so far (without the system prompt, which is read from the settings each turn). */
let history = [];
let model = null;
let controller = null;

function headers() {
  const h = { 'content-type': 'application/json' };
  const key = els.apiKey.value.trim();
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

function setStatus(text) { els.status.textContent = text; }

function addMessage(role, text) {
  const li = document.createElement('li');
  li.className = `msg ${role}`;
  const label = document.createElement('span');
  label.className = 'role';
  label.textContent = role;
  const content = document.createElement('span');
  content.className = 'content';
  content.textContent = text;
  li.append(label, content);
  els.messages.append(li);
  li.scrollIntoView({ block: 'end' });
  return li;
}

async function loadModel() {
  try {
    const r = await fetch('/v1/models', { headers: headers() });
    if (r.status === 401) {
      els.apiKeyRow.classList.add('needed');
      els.modelInfo.textContent = 'this server needs an API key';
      setStatus('Enter the API key in the settings.');
      return;
    }
    const body = await r.json();
    if (!r.ok) throw new Error(body.error ? body.error.message : `HTTP ${r.status}`);
    model = body.data[0];
    els.apiKeyRow.classList.remove('needed');
    els.modelInfo.textContent = `${model.id} · context ${model.max_model_len} tokens`;
    setStatus('');
  } catch (e) {
    els.modelInfo.textContent = 'server unreachable';
    setStatus(String(e.message || e));
  }
}

/** Yields the JSON payload of each `data:` event of an SSE response until [DONE]. */
async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data === '[DONE]') return;
      if (data) yield JSON.parse(data);
    }
  }
}

function busy(on) {
  els.send.disabled = on;
  els.stop.disabled = !on;
  els.reset.disabled = on;
}

async function send(text) {
  history.push({ role: 'user', content: text });
  addMessage('user', text);
  const li = addMessage('assistant', '');
  li.dataset.state = 'streaming';
  const content = li.querySelector('.content');
  const system = els.system.value.trim();
  const body = {
    messages: system ? [{ role: 'system', content: system }, ...history] : history,
    stream: true,
    temperature: Number(els.temperature.value),
    top_p: Number(els.topP.value),
    max_tokens: Number(els.maxTokens.value),
  };
  if (model) body.model = model.id;
  controller = new AbortController();
  busy(true);
  setStatus('generating…');
  let answer = '';
  let finish = null;
  try {
    const r = await fetch('/v1/chat/completions', { method: 'POST', headers: headers(), body: JSON.stringify(body), signal: controller.signal });
    if (!r.ok) {
      const err = await r.json().catch(() => null);
      if (r.status === 401) els.apiKeyRow.classList.add('needed');
      throw new Error(err && err.error ? err.error.message : `HTTP ${r.status}`);
    }
    for await (const chunk of sseEvents(r)) {
      if (chunk.error) throw new Error(chunk.error.message);
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.delta && choice.delta.content) {
        answer += choice.delta.content;
        content.textContent = answer;
        li.scrollIntoView({ block: 'end' });
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    li.dataset.state = 'done';
    li.dataset.finish = finish || '';
    setStatus(finish === 'length' ? 'stopped at the token limit' : '');
  } catch (e) {
    if (e.name === 'AbortError') {
      li.dataset.state = 'stopped';
      setStatus('stopped');
    } else {
      li.dataset.state = 'error';
      li.classList.add('error');
      content.textContent = answer ? `${answer}\n[error: ${e.message}]` : `error: ${e.message}`;
      setStatus('');
    }
  } finally {
    // what was shown (even a stopped answer) is part of the conversation; a failed turn is dropped
    if (li.dataset.state === 'error') history.pop();
    else history.push({ role: 'assistant', content: answer });
    controller = null;
    busy(false);
    els.input.focus();
  }
}

els.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = els.input.value.trim();
  if (!text || controller) return;
  els.input.value = '';
  send(text);
});
els.input.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); els.form.requestSubmit(); }
});
els.stop.addEventListener('click', () => { if (controller) controller.abort(); });
els.reset.addEventListener('click', () => { history = []; els.messages.replaceChildren(); setStatus('new chat'); });
els.apiKey.addEventListener('change', loadModel);

loadModel();
