#!/usr/bin/env node
'use strict';
/*
 * Fake Anthropic Messages API for berth's tests. Node 18+, built-in modules only.
 *
 *   node test/fake_anthropic/server.js [port]        (or FAKE_ANTHROPIC_PORT; default 0 = ephemeral)
 *
 * Listens on 127.0.0.1 only. The FIRST stdout line is `listening <port>`; request logs go to stderr.
 * Point the real CLI at it with ANTHROPIC_BASE_URL=http://127.0.0.1:<port> (any ANTHROPIC_API_KEY).
 *
 * Environment:
 *   FAKE_ANTHROPIC_PORT     port when no argv port is given (0 = ephemeral)
 *   FAKE_ANTHROPIC_API_KEY  if set, /v1/* requests whose x-api-key (or Authorization: Bearer) differs get a
 *                           real-looking 401 authentication_error (tests "wrong key" without a directive)
 *   FAKE_ANTHROPIC_DELAY_MS default pause between streamed SSE events (default 5)
 *   FAKE_ANTHROPIC_TLS_CERT, FAKE_ANTHROPIC_TLS_KEY  PEM files: serve HTTPS instead, plus plain HTTP on a second
 *                           ephemeral port for /_requests etc.; the first line is then `listening <tls> <plain>`
 *
 * Endpoints:
 *   POST /v1/messages               streaming (SSE) when body.stream is true, else one JSON message
 *   POST /v1/messages/count_tokens  {"input_tokens": <len(body)/4>}
 *   GET  /v1/models[/<id>]          a small model list / one model
 *   GET  /_requests                 JSON array of every recorded request (oldest first); ?since=<n> skips the
 *                                   first n (seq numbers start at 1 and restart at 1 after /_reset)
 *   POST /_reset                    forget recorded requests and directive counters -> {"ok":true}
 *   GET  /_health                   {"ok":true}
 *   anything else                   logged to stderr as "unknown path", answered 404 with an Anthropic
 *                                   not_found_error body (HEAD/GET / answer 200 so reachability checks pass)
 *
 * Scripting. The reply to a /v1/messages request is chosen by directives found in the text of the LAST
 * message with role "user" (its string content or its text blocks; CLI <system-reminder> blocks are harmless).
 * A directive is `@@name` or `@@name:arg`. The args of @@bash and @@tool run to the end of their line; all
 * other args are one word, so several directives may share a line ("@@text:5 @@delay:200"). The first
 * occurrence of each directive wins.
 *
 *   (none)               a short text reply streamed as several text_delta events ("Hello from the fake ...")
 *   @@text:<N>           a text reply of exactly N words ("word1 word2 ... wordN"), one text_delta per word
 *   @@bash:<command>     if the request offers a tool named "Bash": stop_reason tool_use, content = a text block
 *                        ("I'll run that command.", index 0) then a tool_use block (index 1) {name:"Bash",
 *                        input:{"command":"<command>","description":"fake bash"}} whose input is streamed as
 *                        several input_json_delta chunks. Without a Bash tool: a text reply saying so.
 *   @@tool:<Name> <json> same for any offered tool with the given JSON input (text: "I'll use the <Name> tool.")
 *   @@status:<code>      answer with HTTP <code> and the Anthropic error body for it (400 invalid_request_error,
 *                        401 authentication_error, 403 permission_error, 404 not_found_error, 413
 *                        request_too_large, 429 rate_limit_error, 500 api_error, 529 overloaded_error);
 *                        429/529 carry `retry-after: 1`.
 *   @@status:<code>:<k>  fail only the first k matching requests (counted per directive text since the last
 *                        reset), then answer normally (transient errors that recover)
 *   @@should-retry:<true|false>  add `x-should-retry: <v>` to the error response. CLI 2.1.197 honours it:
 *                        with `false` it fails at once, no api_retry lines (verified for 401 and 500).
 *   @@recall             reply with the texts of the earlier user messages in this request (proves resume)
 *   @@delay:<ms>         pause <ms> between streamed events (default FAKE_ANTHROPIC_DELAY_MS)
 *   @@stall:<ms>         wait <ms> before sending response headers
 *
 * When the last user message carries a tool_result block (the turn after a tool_use), the reply is the text
 * "Tool <name> returned: <first 200 chars of its output>" with stop_reason end_turn, whatever the directives.
 *
 * What CLI 2.1.197 calls (with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1): one `HEAD /` reachability check,
 * then `POST /v1/messages?beta=true` (stream: true, ~75 KB body: system, ~25 tools, messages) per model turn.
 * Its messages may include a {"role":"system"} entry after the user turn, hence "last role:user message".
 *
 * Recording: every request (including unknown paths, excluding /_requests, /_reset, /_health) is stored as
 *   {"seq","time","method","path","query","headers","body","scenario","status"}
 * plus key_matched (whether the request carried FAKE_ANTHROPIC_API_KEY; null when none is required) and usage
 * ({input_tokens, output_tokens} this fake reported in its answer, null for other answers),
 * where headers are lower-cased with secrets (x-api-key, authorization, cookie, anything matching
 * key|token|secret|auth) replaced by "[redacted]", body is the parsed JSON (or the raw text if not JSON), and
 * scenario/status say how the fake answered.
 */

const http = require('http');
const crypto = require('crypto');
const { URL } = require('url');

const DEFAULT_DELAY = Number(process.env.FAKE_ANTHROPIC_DELAY_MS || 5);
const REQUIRED_KEY = process.env.FAKE_ANTHROPIC_API_KEY || '';
const preamble = (tool) => (tool === 'Bash' ? "I'll run that command." : `I'll use the ${tool} tool.`);

let requests = [];
let seq = 0;
let failCounters = new Map();

const ERROR_TYPES = {
  400: ['invalid_request_error', 'Invalid request (fake).'],
  401: ['authentication_error', 'invalid x-api-key'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'The requested resource could not be found.'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit (fake).'],
  500: ['api_error', 'Internal server error (fake).'],
  529: ['overloaded_error', 'Overloaded'],
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rid = (prefix) => prefix + crypto.randomBytes(12).toString('hex');

function redactHeaders(h) {
  const out = {};
  for (const [k, v] of Object.entries(h)) {
    out[k] = /key|token|secret|auth|cookie/i.test(k) ? '[redacted]' : v;
  }
  return out;
}

function lastUserMessage(body) {
  const msgs = Array.isArray(body && body.messages) ? body.messages : [];
  for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i] && msgs[i].role === 'user') return msgs[i];
  return null;
}

function textOf(msg) {
  if (!msg) return '';
  if (typeof msg.content === 'string') return msg.content;
  if (!Array.isArray(msg.content)) return '';
  return msg.content.filter((b) => b && b.type === 'text').map((b) => b.text).join('\n');
}

function toolResultOf(msg) {
  if (!msg || !Array.isArray(msg.content)) return null;
  return msg.content.find((b) => b && b.type === 'tool_result') || null;
}

function parseDirectives(text) {
  // bash/tool take the rest of the line; the others take one whitespace-free word
  const d = {};
  const re = /@@(bash|tool)(?::([^\n]*))?|@@(text|status|recall|delay|stall|should-retry)(?::(\S*))?/g;
  let m;
  while ((m = re.exec(text))) {
    const name = m[1] || m[3];
    const arg = ((m[1] ? m[2] : m[4]) || '').trim();
    if (!(name in d)) d[name] = { arg, raw: m[0] };
  }
  return d;
}

function findToolName(body, toolUseId) {
  for (const m of body.messages || []) {
    if (m.role !== 'assistant' || !Array.isArray(m.content)) continue;
    for (const b of m.content) if (b.type === 'tool_use' && b.id === toolUseId) return b.name;
  }
  return 'tool';
}

function resultText(tr) {
  let c = tr.content;
  if (Array.isArray(c)) c = c.filter((b) => b.type === 'text').map((b) => b.text).join('\n');
  return String(c == null ? '' : c);
}

function words(n) {
  const out = [];
  for (let i = 1; i <= n; i++) out.push(`word${i}`);
  return out;
}

// Decide the reply: {kind:'error', status} | {kind:'text', chunks:[...]} | {kind:'tool', name, input}
function plan(body) {
  const last = lastUserMessage(body);
  const text = textOf(last);
  const d = parseDirectives(text);
  const scen = { delay: DEFAULT_DELAY, stall: 0, shouldRetry: null };
  if (d['should-retry'] && /^(true|false)$/.test(d['should-retry'].arg)) scen.shouldRetry = d['should-retry'].arg;
  if (d.delay && /^\d+$/.test(d.delay.arg)) scen.delay = Number(d.delay.arg);
  if (d.stall && /^\d+$/.test(d.stall.arg)) scen.stall = Number(d.stall.arg);

  if (d.status) {
    const [codeS, countS] = d.status.arg.split(':');
    const code = Number(codeS);
    if (code >= 400 && code <= 599) {
      if (countS === undefined) return { ...scen, kind: 'error', status: code, name: `status:${code}` };
      const key = d.status.raw;
      const used = failCounters.get(key) || 0;
      if (used < Number(countS)) {
        failCounters.set(key, used + 1);
        return { ...scen, kind: 'error', status: code, name: `status:${code} (${used + 1}/${countS})` };
      }
    }
  }

  const tr = toolResultOf(last);
  if (tr) {
    const name = findToolName(body, tr.tool_use_id);
    const out = resultText(tr).slice(0, 200);
    return { ...scen, kind: 'text', name: 'after_tool_result', chunks: splitChunks(`Tool ${name} returned: ${out}`) };
  }

  const tools = Array.isArray(body.tools) ? body.tools.map((t) => t && t.name) : [];
  if (d.bash && d.bash.arg && tools.includes('Bash')) {
    return { ...scen, kind: 'tool', name: 'bash', tool: 'Bash', input: { command: d.bash.arg, description: 'fake bash' } };
  }
  if (d.tool && d.tool.arg) {
    const m = /^(\S+)\s*(.*)$/.exec(d.tool.arg);
    let input = {};
    try { input = m[2] ? JSON.parse(m[2]) : {}; } catch (_) { input = { raw: m[2] }; }
    if (tools.includes(m[1])) return { ...scen, kind: 'tool', name: `tool:${m[1]}`, tool: m[1], input };
  }
  if (d.text && /^\d+$/.test(d.text.arg)) {
    return { ...scen, kind: 'text', name: `text:${d.text.arg}`, chunks: words(Number(d.text.arg)).map((w, i, a) => (i + 1 < a.length ? w + ' ' : w)) };
  }
  if ('recall' in d) {
    const prior = (body.messages || []).filter((m) => m.role === 'user' && m !== last)
      .map(textOf).map((t) => t.replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, '').trim()).filter(Boolean);
    const s = prior.length ? `I remember ${prior.length} earlier message(s): ${prior.map((p) => JSON.stringify(p.slice(0, 80))).join(', ')}` : 'I remember no earlier messages.';
    return { ...scen, kind: 'text', name: 'recall', chunks: splitChunks(s) };
  }
  if (d.bash) {
    return { ...scen, kind: 'text', name: 'bash_without_tool', chunks: splitChunks(`(no Bash tool offered) would run: ${d.bash.arg}`) };
  }
  return { ...scen, kind: 'text', name: 'default', chunks: ['Hello', ' from the', ' fake Anthropic', ' API.'] };
}

function splitChunks(s) {
  const parts = s.match(/\S+\s*/g) || [s];
  const out = [];
  for (let i = 0; i < parts.length; i += 3) out.push(parts.slice(i, i + 3).join(''));
  return out.length ? out : [''];
}

function inputTokens(raw) {
  return Math.max(1, Math.ceil(raw.length / 4));
}

function errorBody(status, message) {
  const [type, msg] = ERROR_TYPES[status] || ['api_error', `Fake error ${status}.`];
  return { type: 'error', error: { type, message: message || msg }, request_id: rid('req_fake') };
}

function sendJSON(res, status, obj, extra) {
  const s = JSON.stringify(obj);
  const reqId = (obj && obj.request_id) || rid('req_fake');
  res.writeHead(status, http.STATUS_CODES[status] || (status === 529 ? 'Overloaded' : 'Error'),
    { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), 'request-id': reqId, ...(extra || {}) });
  res.end(s);
}

function usage(inTok, outTok) {
  return { input_tokens: inTok, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outTok, service_tier: 'standard' };
}

function fullMessage(p, model, inTok) {
  const id = rid('msg_fake');
  if (p.kind === 'tool') {
    return { id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text: preamble(p.tool) }, { type: 'tool_use', id: rid('toolu_fake'), name: p.tool, input: p.input }], stop_reason: 'tool_use', stop_sequence: null, usage: usage(inTok, 20) };
  }
  const text = p.chunks.join('');
  return { id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage: usage(inTok, p.chunks.length) };
}

async function streamMessage(res, p, model, inTok) {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'request-id': rid('req_fake') });
  let closed = false;
  res.on('close', () => { closed = true; });
  const ev = async (type, data) => {
    if (closed) return;
    res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    if (p.delay) await sleep(p.delay);
  };
  const id = rid('msg_fake');
  await ev('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: usage(inTok, 1) } });
  let outTok;
  if (p.kind === 'tool') {
    const json = JSON.stringify(p.input);
    await ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    await ev('ping', { type: 'ping' });
    for (const c of splitChunks(preamble(p.tool))) await ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: c } });
    await ev('content_block_stop', { type: 'content_block_stop', index: 0 });
    await ev('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: rid('toolu_fake'), name: p.tool, input: {} } });
    const step = Math.max(1, Math.ceil(json.length / 4));
    for (let i = 0; i < json.length; i += step) {
      await ev('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: json.slice(i, i + step) } });
    }
    await ev('content_block_stop', { type: 'content_block_stop', index: 1 });
    outTok = 20;
    await ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: outTok } });
  } else {
    await ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    await ev('ping', { type: 'ping' });
    for (const c of p.chunks) await ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: c } });
    await ev('content_block_stop', { type: 'content_block_stop', index: 0 });
    outTok = p.chunks.length;
    await ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: outTok } });
  }
  await ev('message_stop', { type: 'message_stop' });
  if (!closed) res.end();
}

function authOk(req) {
  if (!REQUIRED_KEY) return true;
  const k = req.headers['x-api-key'];
  const a = req.headers.authorization || '';
  return k === REQUIRED_KEY || a === `Bearer ${REQUIRED_KEY}`;
}

async function handle(req, res, raw) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const path = url.pathname;

  if (path === '/_requests' && req.method === 'GET') {
    const since = Number(url.searchParams.get('since') || 0);
    return sendJSON(res, 200, requests.slice(since));
  }
  if (path === '/_reset' && req.method === 'POST') {
    requests = [];
    seq = 0;
    failCounters = new Map();
    return sendJSON(res, 200, { ok: true });
  }
  if (path === '/_health') return sendJSON(res, 200, { ok: true });

  let body = null;
  if (raw.length) {
    try { body = JSON.parse(raw); } catch (_) { body = raw; }
  }
  const rec = {
    seq: ++seq, time: new Date().toISOString(), method: req.method, path,
    query: Object.fromEntries(url.searchParams), headers: redactHeaders(req.headers), body, scenario: null, status: null,
    key_matched: REQUIRED_KEY ? authOk(req) : null, usage: null,
  };
  requests.push(rec);
  const done = (status, scenario) => {
    rec.status = status; rec.scenario = scenario;
    process.stderr.write(`${rec.time} ${req.method} ${path} -> ${status} ${scenario}\n`);
  };

  if (path.startsWith('/v1/') && !authOk(req)) {
    done(401, 'bad_key');
    return sendJSON(res, 401, errorBody(401));
  }

  if (req.method === 'POST' && path === '/v1/messages') {
    if (!body || typeof body !== 'object') {
      done(400, 'bad_json');
      return sendJSON(res, 400, errorBody(400, 'Request body is not valid JSON.'));
    }
    const p = plan(body);
    const model = body.model || 'claude-fake';
    const inTok = inputTokens(raw);
    if (p.stall) await sleep(p.stall);
    if (p.kind === 'error') {
      done(p.status, p.name);
      const extra = p.status === 429 || p.status === 529 ? { 'retry-after': '1' } : {};
      if (p.shouldRetry) extra['x-should-retry'] = p.shouldRetry;
      return sendJSON(res, p.status, errorBody(p.status), extra);
    }
    done(200, `${p.name}${body.stream ? ' stream' : ''}`);
    const outTok = p.kind === 'tool' ? 20 : p.chunks.length;
    rec.usage = { input_tokens: inTok, output_tokens: outTok };
    if (body.stream) return streamMessage(res, p, model, inTok);
    return sendJSON(res, 200, fullMessage(p, model, inTok));
  }
  if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
    done(200, 'count_tokens');
    return sendJSON(res, 200, { input_tokens: inputTokens(raw) });
  }
  if (req.method === 'GET' && path.startsWith('/v1/models')) {
    const m = (id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' });
    const id = path.slice('/v1/models/'.length);
    done(200, 'models');
    if (id) return sendJSON(res, 200, m(decodeURIComponent(id)));
    return sendJSON(res, 200, { data: [m('claude-sonnet-4-5'), m('claude-haiku-4-5')], has_more: false, first_id: 'claude-sonnet-4-5', last_id: 'claude-haiku-4-5' });
  }
  if ((req.method === 'GET' || req.method === 'HEAD') && path === '/') {
    done(200, 'root');
    return sendJSON(res, 200, { ok: true });
  }
  process.stderr.write(`unknown path: ${req.method} ${req.url}\n`);
  done(404, 'unknown_path');
  return sendJSON(res, 404, errorBody(404));
}

const onRequest = (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((e) => {
      process.stderr.write(`fake error: ${e && e.stack}\n`);
      if (!res.headersSent) sendJSON(res, 500, errorBody(500));
      else res.end();
    });
  });
};
const fs = require('fs');
const tls = process.env.FAKE_ANTHROPIC_TLS_CERT
  ? { cert: fs.readFileSync(process.env.FAKE_ANTHROPIC_TLS_CERT), key: fs.readFileSync(process.env.FAKE_ANTHROPIC_TLS_KEY) }
  : null;
const server = tls ? require('https').createServer(tls, onRequest) : http.createServer(onRequest);
server.keepAliveTimeout = 65000;
const admin = tls ? http.createServer(onRequest) : null;

const port = Number(process.argv[2] !== undefined ? process.argv[2] : process.env.FAKE_ANTHROPIC_PORT || 0);
server.listen(port, '127.0.0.1', () => {
  if (!admin) return process.stdout.write(`listening ${server.address().port}\n`);
  admin.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port} ${admin.address().port}\n`));
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { server.close(); process.exit(0); });
