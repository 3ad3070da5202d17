// berth's dashboard. One event stream carries the overview (no polling); a run view follows that run's own
// stream. Routes live in the URL hash: #/ (overview), #/run/<id>, #/history?user=&status=&since=&until=&before=.
// Everything a run produced is untrusted: it only ever reaches the page as text nodes, never as HTML.

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const view = document.getElementById('view');
const live = document.getElementById('live');
const STALE_AFTER_S = 12;  // the overview stream sends at least every 5 s
const STATUSES = ['queued', 'starting', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'oom', 'lost'];
const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'oom', 'lost']);

// ---- small helpers -------------------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : String(c));  // strings become text nodes
  }
  return e;
}

function fmtBytes(n) {
  if (n === null || n === undefined || n < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// Model tokens the gateway metered for a run (its own count, not the agent's).
function fmtUsage(u) {
  if (!u || !u.requests) return '—';
  const cache = u.cache_read_input_tokens + u.cache_creation_input_tokens;
  return `${u.input_tokens} in · ${u.output_tokens} out` + (cache ? ` · ${cache} cache` : '') +
    ` · ${u.requests} request${u.requests === 1 ? '' : 's'}`;
}

function fmtDuration(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return '';
  s = Math.max(0, Math.floor(s));
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60, sec = s % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return '';
  return ms < 10000 ? `${(ms / 1000).toFixed(2)}s` : fmtDuration(ms / 1000);
}

function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

const runHref = (id) => '#/run/' + encodeURIComponent(id);
const runLink = (id) => el('a', { href: runHref(id), class: 'mono' }, id);
const statusBadge = (s) => el('span', { class: 'status ' + s }, s);
const pretty = (v) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));

function toLogin() { location.href = '/dashboard/login'; }

async function api(path, options = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...options });
  if (res.status === 401) { toLogin(); throw new Error('logged out'); }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
  return body;
}

function table(headers, rows, empty) {
  if (!rows.length) return el('p', { class: 'empty' }, empty);
  return el('div', { class: 'table-wrap' },
    el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))), el('tbody', {}, rows)));
}

function problem(message) { return el('section', {}, el('p', { class: 'ev-error' }, message)); }

async function cancelRun(id, button) {
  button.disabled = true;
  try {
    await api('/dashboard/api/runs/' + encodeURIComponent(id), { method: 'DELETE', headers: { 'X-CSRF-Token': csrf } });
    button.textContent = 'Cancelling…';
  } catch (e) {
    button.disabled = false;
    button.title = e.message;
  }
}

const cancelButton = (id, label = 'Cancel') => {
  const b = el('button', { class: 'danger', type: 'button', dataset: { cancel: id } }, label);
  b.addEventListener('click', () => cancelRun(id, b));
  return b;
};

// ---- overview (pushed) ----------------------------------------------------------------------------------

let snapshot = null;
let snapshotAt = 0;      // when it arrived (ms, this clock)
let lastMessageAt = 0;

function connectOverview() {
  const es = new EventSource('/dashboard/api/events');
  es.addEventListener('overview', (m) => {
    snapshot = JSON.parse(m.data);
    snapshotAt = lastMessageAt = Date.now();
    if (currentRoute().name === 'overview') renderOverview();
    tick();
  });
  es.addEventListener('logout', () => { es.close(); toLogin(); });
  es.onerror = () => {
    tick();
    // The stream also ends when the session does: find out which, without waiting for the next retry.
    fetch('/dashboard/api/overview', { credentials: 'same-origin' }).then((r) => { if (r.status === 401) toLogin(); }, () => {});
  };
}

function fact(label, value) { return el('span', {}, label + ' ', el('b', {}, value)); }

function renderOverview() {
  if (!snapshot) { view.replaceChildren(el('section', {}, el('p', { class: 'muted' }, 'Waiting for berthd…'))); return; }
  const s = snapshot, h = s.host, e = s.engine;
  const since = (elapsed) => snapshotAt - elapsed * 1000;

  const facts = el('section', { id: 'facts' }, el('h2', {}, 'Host and engine'),
    el('div', { class: 'facts' },
      fact('berthd', `${s.version} · ${s.instance}`),
      fact('up', fmtDuration(s.uptime_s)),
      fact('docker', e.ok ? (e.version || 'ok') : 'unreachable'),
      e.containers_running !== undefined ? fact('containers running', String(e.containers_running)) : null,
      fact('workers', `${s.workers} / ${s.limits.max_concurrent}`),
      fact('spares', String(s.spares)),
      fact('load', h.load.map((x) => x.toFixed(2)).join(' ') + ` (${h.cpus} cpu)`),
      fact('memory free', `${fmtBytes(h.mem_available_bytes)} of ${fmtBytes(h.mem_total_bytes)}`),
      fact('disk free', fmtBytes(h.disk_free_bytes)),
      fact('berthd RSS', fmtBytes(h.berthd_rss_bytes)),
      fact('streams', String(s.subscribers)),
      fact('replies', `${s.deliveries.delivered} delivered · ${s.deliveries.pending + s.deliveries.waiting} owed`),
      s.deliveries.failed ? el('span', { class: 'ev-error', id: 'failed-replies' }, `${s.deliveries.failed} replies failed`) : null),
    e.error ? el('p', { class: 'ev-error' }, 'engine: ' + e.error) : null);

  const counts = el('section', { id: 'counts' }, el('h2', {}, 'Runs by status'),
    el('div', { class: 'counts' }, STATUSES.map((st) =>
      el('a', { class: 'count', href: '#/history?status=' + st, dataset: { status: st } },
        el('span', { class: 'n' }, String(s.counts[st] ?? 0)), statusBadge(st)))));

  const active = el('section', { id: 'active' }, el('h2', {}, `In progress (${s.active.length})`),
    table(['Run', 'User', 'Engine', 'Status', 'Container', 'Elapsed', 'Events', 'Tokens', ''],
      s.active.map((r) => el('tr', { dataset: { run: r.id } },
        el('td', {}, runLink(r.id)), el('td', {}, r.user), el('td', {}, r.engine), el('td', {}, statusBadge(r.status)),
        el('td', {}, r.container ?? '—'),
        el('td', { dataset: { since: since(r.elapsed_s) } }, fmtDuration(r.elapsed_s)),
        el('td', {}, String(r.events)), el('td', { class: 'usage' }, fmtUsage(r.usage)), el('td', {}, cancelButton(r.id)))),
      'Nothing running.'));

  const queue = el('section', { id: 'queue' }, el('h2', {}, `Queue (${s.queue_total} of at most ${s.limits.queue_max})`),
    table(['#', 'Run', 'User', 'Engine', 'Waiting', ''],
      s.queue.map((r) => el('tr', { dataset: { run: r.id } },
        el('td', {}, String(r.position)), el('td', {}, runLink(r.id)), el('td', {}, r.user), el('td', {}, r.engine),
        el('td', { dataset: { since: since(r.waited_s) } }, fmtDuration(r.waited_s)), el('td', {}, cancelButton(r.id)))),
      'The queue is empty.'));

  const recent = el('section', { id: 'recent' }, el('h2', {}, 'Recent runs'),
    table(['Run', 'User', 'Engine', 'Status', 'Duration', 'Tokens', 'Reason', 'Created'],
      s.recent.map((r) => el('tr', { dataset: { run: r.id } },
        el('td', {}, runLink(r.id)), el('td', {}, r.user), el('td', {}, r.engine), el('td', {}, statusBadge(r.status)),
        el('td', {}, fmtMs(r.duration_ms)), el('td', { class: 'usage' }, fmtUsage(r.usage)),
        el('td', { class: 'wrap' }, r.reason || ''),
        el('td', { class: 'hide-narrow' }, fmtTime(r.created_at)))),
      'No runs yet.'));

  const failed = s.failed_deliveries.length
    ? el('section', { id: 'failed-deliveries' }, el('h2', {}, `Replies that could not be delivered (${s.deliveries.failed})`),
      table(['Run', 'Kind', 'Attempts', 'Last error'], s.failed_deliveries.map((d) => el('tr', { dataset: { run: d.run } },
        el('td', {}, runLink(d.run)), el('td', {}, d.kind), el('td', {}, String(d.attempts)),
        el('td', { class: 'wrap ev-error' }, d.last_error))), ''))
    : '';
  const usd = (x) => '$' + x.toFixed(x < 1 ? 4 : 2);
  const limit = (b) => (b ? [b.tokens_per_day ? `${b.tokens_per_day} tokens` : '', b.usd_per_day ? usd(b.usd_per_day) : '']
    .filter(Boolean).join(' · ') : '—');
  const spend = (s.spend_today || []).length
    ? el('section', { id: 'spend' }, el('h2', {}, 'Spend today (UTC)'),
      table(['User', 'Tokens', 'Cost', 'Budget per day', ''], s.spend_today.map((u) => el('tr', { dataset: { user: u.user } },
        el('td', {}, u.user), el('td', {}, String(u.tokens)), el('td', {}, usd(u.usd)), el('td', {}, limit(u.budget)),
        el('td', {}, u.exceeded ? el('span', { class: 'status failed' }, 'over budget') : ''))), ''))
    : '';
  view.replaceChildren(facts, counts, active, queue, failed, spend, recent);
}

// Once a second: the liveness line and every elapsed-time cell.
function tick() {
  if (!lastMessageAt) {
    live.textContent = 'connecting…';
    live.className = 'live stale';
  } else {
    const age = (Date.now() - lastMessageAt) / 1000;
    const stale = age > STALE_AFTER_S;
    live.className = stale ? 'live stale' : 'live';
    live.textContent = stale ? `stale: no update for ${fmtDuration(age)}` : `live · updated ${fmtDuration(age)} ago`;
  }
  for (const cell of view.querySelectorAll('[data-since]'))
    cell.textContent = fmtDuration((Date.now() - Number(cell.dataset.since)) / 1000);
}

// ---- run view -------------------------------------------------------------------------------------------

let runStream = null;
function closeRunStream() { if (runStream) { runStream.close(); runStream = null; } }

// Turns a run's events into readable blocks: consecutive text deltas become one paragraph of prose, tool
// calls and their results are collapsible, logs are dimmed, `done` shows the final status and reason.
class RunRenderer {
  constructor(container, final, onStatus) {
    this.container = container;
    this.final = final;
    this.onStatus = onStatus;
    this.prose = null;
  }

  add(type, d) {
    if (type === 'text') {
      if (!this.prose) { this.prose = el('div', { class: 'prose' }); this.container.append(this.prose); }
      this.prose.append(d.text);
      return;
    }
    this.prose = null;
    const c = this.container;
    switch (type) {
      case 'status': this.onStatus(d.status); c.append(el('div', { class: 'ev-meta' }, `status: ${d.status}`)); break;
      case 'started': c.append(el('div', { class: 'ev-meta' }, `engine ${d.engine} started`)); break;
      case 'tool_use':
        c.append(el('details', { class: 'tool' }, el('summary', {}, `tool: ${d.name}`), el('pre', {}, pretty(d.input))));
        break;
      case 'tool_result':
        c.append(el('details', { class: 'tool' + (d.is_error ? ' error' : '') },
          el('summary', {}, d.is_error ? 'tool result (error)' : 'tool result'), el('pre', {}, pretty(d.output))));
        break;
      case 'result': {
        const parts = [`result: ${d.turns ?? '?'} turn(s)`];
        if (d.cost_usd !== undefined) parts.push(`$${Number(d.cost_usd).toFixed(4)}`);
        if (d.is_error) parts.push('error');
        c.append(el('div', { class: 'ev-meta' }, parts.join(' · ')));
        break;
      }
      case 'error': c.append(el('div', { class: 'ev-error' }, `error (${d.kind}): ${d.message}`)); break;
      case 'log': c.append(el('div', { class: 'ev-log' }, `${d.stream ?? 'log'}: ${d.line ?? d.message ?? ''}`)); break;
      case 'egress':
        c.append(el('div', { class: d.allowed ? 'ev-meta' : 'ev-error' },
          `egress ${d.allowed ? 'allowed' : 'refused'}: ${d.target}${d.reason ? ' — ' + d.reason : ''}`));
        break;
      case 'done':
        this.onStatus(d.status);
        this.final.replaceChildren(el('div', { class: 'final ' + d.status },
          `${d.status}${d.exit_code !== null && d.exit_code !== undefined ? ` (exit ${d.exit_code})` : ''}`,
          d.reason ? ` — ${d.reason}` : ''));
        break;
      default: c.append(el('div', { class: 'ev-meta' }, `${type}`));
    }
  }
}

// The replies a run owes (Slack, Telegram, callback) and how their delivery went.
function repliesSection(deliveries) {
  if (!deliveries.length) return '';
  const badge = (state) => el('span', { class: 'status ' + ({ delivered: 'succeeded', failed: 'failed' }[state] ?? 'queued') }, state);
  const rows = deliveries.map((d) => el('tr', { dataset: { delivery: d.id } },
    el('td', {}, d.kind + (d.url ? ` → ${d.url}` : '')), el('td', {}, badge(d.state)), el('td', {}, String(d.attempts)),
    el('td', { class: 'wrap' }, d.last_error), el('td', {}, fmtTime(d.delivered_at))));
  return el('section', { id: 'deliveries' }, el('h2', {}, 'Replies'),
    table(['Kind', 'State', 'Attempts', 'Last error', 'Delivered'], rows, ''));
}

async function showRun(id) {
  let run;
  try {
    run = await api('/dashboard/api/runs/' + encodeURIComponent(id));
  } catch (e) {
    view.replaceChildren(problem(`Run ${id}: ${e.message}`));
    return;
  }
  if (currentRoute().id !== id) return;  // navigated away meanwhile
  const badge = statusBadge(run.status);
  const cancel = cancelButton(run.id);
  cancel.id = 'cancel';
  cancel.hidden = TERMINAL.has(run.status);
  const events = el('div', { class: 'events', id: 'events' });
  const final = el('div', { id: 'final' });
  view.replaceChildren(
    el('section', { id: 'run', dataset: { run: run.id } },
      el('div', { class: 'run-head' }, el('h1', {}, run.id), badge,
        el('span', { class: 'muted' }, `${run.user} · ${run.engine}${run.session ? ' · session ' + run.session : ''}`),
        run.worker_node ? el('span', { class: 'muted', id: 'worker-node' }, 'on node ' + run.worker_node) : null,
        el('span', { class: 'muted' }, 'created ' + fmtTime(run.created_at)),
        el('span', { class: 'muted', id: 'usage' }, 'tokens ' + fmtUsage(run.usage)), cancel),
      el('h2', {}, 'Message'), el('div', { class: 'message' }, run.message)),
    el('section', {}, el('h2', {}, 'Events'), events, final),
    repliesSection(run.deliveries || []));

  let finished = false;
  const renderer = new RunRenderer(events, final, (status) => {
    badge.className = 'status ' + status;
    badge.textContent = status;
    cancel.hidden = TERMINAL.has(status);
  });
  // The stream replays the stored events and then follows; after a dropped connection EventSource resumes
  // with Last-Event-ID, and a reload replays from the start.
  const es = new EventSource(`/dashboard/api/runs/${encodeURIComponent(run.id)}/events`);
  runStream = es;
  for (const type of ['status', 'started', 'text', 'tool_use', 'tool_result', 'result', 'error', 'log', 'egress', 'done']) {
    es.addEventListener(type, (m) => {
      const d = JSON.parse(m.data);
      renderer.add(type, d);
      if (type === 'done') {
        finished = true;
        es.close();
        // The final count: the gateway's last notes are stored just before `done`.
        api('/dashboard/api/runs/' + encodeURIComponent(run.id))
          .then((r) => { const u = document.getElementById('usage'); if (u) u.textContent = 'tokens ' + fmtUsage(r.usage); })
          .catch(() => {});
      }
    });
  }
  es.onerror = () => { if (finished) es.close(); };
}

// ---- history --------------------------------------------------------------------------------------------

function toMs(local) {
  const t = new Date(local).getTime();
  return Number.isNaN(t) ? '' : String(t);
}

async function showHistory(params) {
  const field = (name, props) => el('label', {}, name, el('input', { name, value: params.get(name) ?? '', ...props }));
  const status = el('select', { name: 'status' }, el('option', { value: '' }, 'any'),
    STATUSES.map((st) => el('option', { value: st, selected: params.get('status') === st }, st)));
  const message = el('p', { class: 'muted', id: 'history-message' });
  const form = el('form', { class: 'filters', id: 'filters' },
    field('user', { placeholder: 'any', size: 14 }),
    el('label', {}, 'status', status),
    field('since', { type: 'datetime-local' }),
    field('until', { type: 'datetime-local' }),
    el('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    location.hash = '#/history' + (q.toString() ? '?' + q : '');
  });
  const idInput = el('input', { name: 'id', placeholder: 'run id', size: 28, spellcheck: 'false' });
  const search = el('form', { class: 'filters', id: 'search' }, el('label', {}, 'find a run', idInput),
    el('button', { type: 'submit' }, 'Open'));
  search.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const id = idInput.value.trim();
    if (!id) return;
    try {
      await api('/dashboard/api/runs/' + encodeURIComponent(id));
      location.hash = runHref(id);
    } catch (e) {
      message.textContent = `No run ${id}.`;
    }
  });
  const results = el('div', { id: 'history-results' }, el('p', { class: 'muted' }, 'Loading…'));
  view.replaceChildren(el('section', {}, el('h2', {}, 'History'), form, search, message), el('section', {}, results));

  const q = new URLSearchParams();
  for (const k of ['user', 'status', 'before']) if (params.get(k)) q.set(k, params.get(k));
  for (const k of ['since', 'until']) if (params.get(k)) q.set(k, toMs(params.get(k)));
  q.set('limit', '50');
  let page;
  try {
    page = await api('/dashboard/api/runs?' + q);
  } catch (e) {
    results.replaceChildren(el('p', { class: 'ev-error' }, e.message));
    return;
  }
  const rows = page.runs.map((r) => el('tr', { dataset: { run: r.id } },
    el('td', {}, runLink(r.id)), el('td', {}, r.user), el('td', {}, r.engine), el('td', {}, statusBadge(r.status)),
    el('td', { class: 'hide-narrow' }, fmtTime(r.created_at)), el('td', { class: 'wrap' }, r.message_preview),
    el('td', { class: 'wrap' }, r.reason || '')));
  const pager = el('div', { class: 'pager' });
  if (params.get('before')) {
    const first = new URLSearchParams(params);
    first.delete('before');
    pager.append(el('a', { href: '#/history' + (first.toString() ? '?' + first : '') }, '« newest'));
  }
  if (page.next) {
    const older = new URLSearchParams(params);
    older.set('before', page.next);
    pager.append(el('a', { href: '#/history?' + older, id: 'older' }, 'older »'));
  }
  results.replaceChildren(table(['Run', 'User', 'Engine', 'Status', 'Created', 'Message', 'Reason'], rows, 'No runs match.'), pager);
}

// ---- schedules ------------------------------------------------------------------------------------------

// Every schedule and heartbeat the session may see: when it fires, whether it is paused, what it sends.
async function showSchedules() {
  const results = el('div', { id: 'schedules' }, el('p', { class: 'muted' }, 'Loading…'));
  view.replaceChildren(el('section', {}, el('h2', {}, 'Schedules'), results));
  let page;
  try {
    page = await api('/dashboard/api/schedules');
  } catch (e) {
    results.replaceChildren(el('p', { class: 'ev-error' }, e.message));
    return;
  }
  const when = (s) => (s.cron ? `cron ${s.cron}` : `every ${fmtDuration(s.interval_s)}`) +
    (s.timezone && s.timezone !== 'UTC' ? ` (${s.timezone})` : '');
  const next = (s) => (s.paused ? el('span', { class: 'status paused' }, 'paused') : s.next_run ? fmtTime(s.next_run) : '—');
  const history = (s) => el('a', { href: '#/history?user=' + encodeURIComponent(s.user) }, s.user);
  const rows = page.schedules.map((s) => el('tr', { dataset: { schedule: s.id } },
    el('td', { class: 'mono' }, s.id), el('td', {}, history(s)), el('td', {}, s.kind), el('td', {}, when(s)),
    el('td', { class: 'next' }, next(s)), el('td', { class: 'hide-narrow' }, s.missed),
    el('td', { class: 'wrap' }, s.message.length > 120 ? s.message.slice(0, 120) + '…' : s.message)));
  results.replaceChildren(table(['Schedule', 'User', 'Kind', 'When', 'Next run', 'Missed', 'Message'], rows, 'No schedules.'));
}

// ---- routing --------------------------------------------------------------------------------------------

function currentRoute() {
  const h = location.hash.slice(1) || '/';
  if (h.startsWith('/run/')) return { name: 'run', id: decodeURIComponent(h.slice(5)) };
  if (h === '/schedules') return { name: 'schedules' };
  if (h.startsWith('/history')) {
    const q = h.indexOf('?');
    return { name: 'history', params: new URLSearchParams(q < 0 ? '' : h.slice(q + 1)) };
  }
  return { name: 'overview' };
}

function render() {
  closeRunStream();
  const r = currentRoute();
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('current', a.dataset.nav === r.name);
  if (r.name === 'run') showRun(r.id);
  else if (r.name === 'history') showHistory(r.params);
  else if (r.name === 'schedules') showSchedules();
  else renderOverview();
}

window.addEventListener('hashchange', render);
render();
connectOverview();
setInterval(tick, 1000);
