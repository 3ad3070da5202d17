// The dashboard in a real browser: Debian's headless chromium driven by playwright-core, against the real
// berthd and real worker containers. Logs in with the form, sees a run started through the API appear on the
// open page without a reload, opens it and watches its words arrive, cancels a second run from the page,
// finds it in the history, lists schedules, logs out; run text with markup stays text; no console errors. A screenshot of the
// run view and of the overview are kept in $BERTH_ARTIFACTS.
//
// Environment: BERTHD (the binary), BERTH_ARTIFACTS (where screenshots go), NODE_PATH (playwright-core).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');

const KEY = 'browser-test-key-0123456789';
const BERTHD = process.env.BERTHD;
const ARTIFACTS = process.env.BERTH_ARTIFACTS || path.join(os.tmpdir(), 'berth-artifacts');
const STEP_TIMEOUT_MS = 30000;

// Its own instance name: whatever berthd made on the engine for it (workspaces, the gateway volume,
// containers) carries it and is removed at the end, pass or fail.
const INSTANCE = `browser${process.pid}`;
function removeInstanceLeftovers() {
  const { execSync } = require('node:child_process');
  const filter = `--filter label=berth.instance=${INSTANCE}`;
  execSync(`docker ps -aq ${filter} | xargs -r docker rm -f >/dev/null 2>&1; ` +
           `docker volume ls -q ${filter} | xargs -r docker volume rm -f >/dev/null 2>&1 || true`, { shell: '/bin/bash' });
}

function startBerthd(dataDir) {
  const env = {
    ...process.env,
    BERTH_API_KEYS: KEY,
    BERTH_LISTEN: '127.0.0.1:0',
    BERTH_DATA_DIR: dataDir,
    BERTH_ENGINES: 'echo,script',
    BERTH_DEFAULT_ENGINE: 'echo',
    BERTH_WORKER_NETWORK: 'none',
    BERTH_ORPHAN_GRACE_S: '3600',
    BERTH_INSTANCE: INSTANCE,
  };
  const child = spawn(BERTHD, [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('berthd did not start:\n' + log)), 20000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /listening address=127\.0\.0\.1:(\d+)/.exec(log);
      if (m && !child.port) {
        child.port = Number(m[1]);
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => reject(new Error(`berthd exited (${code}):\n${log}`)));
    child.log = () => log;
  });
}

async function main() {
  assert.ok(BERTHD, 'set BERTHD to the berthd binary');
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-browser-'));
  const berthd = await startBerthd(dataDir);
  const base = `http://127.0.0.1:${berthd.port}`;
  const api = async (method, p, body) => {
    const res = await fetch(base + p, {
      method,
      headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: await res.json() };
  };

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
  const consoleErrors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
    // The run view of `runId` (not the view it replaced: hash navigation keeps the document) shows `status`.
    const runViewEnds = (runId, status) => page.waitForFunction(([r, st]) =>
      document.querySelector('#run')?.dataset.run === r && document.querySelector(`#final .final.${st}`) !== null,
    [runId, status]);

    // 1. Anonymous: the login form. A wrong key gets the form again with an error.
    await page.goto(base + '/dashboard');
    assert.match(page.url(), /\/dashboard\/login$/);
    await page.fill('#key', 'not-the-key-0123456789');
    await page.click('button[type=submit]');
    await page.waitForSelector('.error');
    assert.equal((await page.textContent('.error')).trim(), 'That key is not valid.');
    // The refusal is a 401 on purpose, and chromium reports every 4xx document as a console error: that one
    // is expected, nothing else is, from here to the end.
    assert.deepEqual(consoleErrors.filter((e) => !/status of 401/.test(e)), []);
    consoleErrors.length = 0;

    // 2. Log in with the form.
    await page.fill('#key', KEY);
    await page.click('button[type=submit]');
    await page.waitForURL(base + '/dashboard');
    await page.waitForSelector('#facts');
    await page.waitForFunction(() => document.getElementById('live').className === 'live');
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'berth_session');
    assert.ok(session && session.httpOnly && session.sameSite === 'Strict', 'HttpOnly SameSite=Strict session cookie');
    assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is invisible to scripts');
    await page.evaluate(() => { window.__sameDocument = true; });  // gone if anything reloads the page

    // 3. A run started through the API appears on the open page, pushed, no reload. Its text carries markup.
    const hostile = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet ' +
      '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">';
    const first = await api('POST', '/api/v1/runs', { user: 'alice', message: hostile, options: { delay_ms: 250 } });
    assert.equal(first.status, 202);
    const id = first.json.id;
    await page.waitForSelector(`#active tr[data-run="${id}"], #queue tr[data-run="${id}"], #recent tr[data-run="${id}"]`);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the overview updated without a reload');

    // 4. Open it and watch its words arrive: some text before the run is done, then all of it.
    await page.click(`tr[data-run="${id}"] a`);
    await page.waitForSelector(`#run[data-run="${id}"]`);
    await page.waitForFunction(() => {
      const prose = document.querySelector('#events .prose');
      return prose && prose.textContent.includes('alpha') && document.getElementById('final').textContent === '';
    });
    const partial = await page.textContent('#events .prose');
    await runViewEnds(id, 'succeeded');
    const full = await page.textContent('#events .prose');
    assert.ok(partial.length < full.length, `words arrived one by one (${partial.length} < ${full.length} chars)`);
    assert.equal(full, hostile, 'the run text is shown exactly, as text');
    assert.equal(await page.locator('#events script, #events img, .message script, .message img').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined, 'nothing in the run text ran');
    assert.equal(await page.isVisible('#cancel'), false, 'no cancel button on a finished run');
    // The gateway's token count is shown (an echo run makes no model request: none metered).
    assert.equal(await page.textContent('#usage'), 'tokens —');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-run.png'), fullPage: true });

    // A reload resumes the same view from the store.
    await page.reload();
    await runViewEnds(id, 'succeeded');
    assert.equal(await page.textContent('#events .prose'), hostile);

    // Tool calls and their results are collapsed until opened; logs are there, dimmed.
    const tools = await api('POST', '/api/v1/runs',
      { user: 'alice', engine: 'script', message: 'tools', options: { scenario: 'tools' } });
    await page.goto(`${base}/dashboard#/run/${tools.json.id}`);  // same document: only the hash changes
    await runViewEnds(tools.json.id, 'succeeded');
    assert.equal(await page.locator('#events details.tool').count(), 2);
    assert.equal(await page.isVisible('#events details.tool >> nth=1 >> pre'), false, 'collapsed');
    await page.click('#events details.tool >> nth=1 >> summary');
    assert.equal(await page.textContent('#events details.tool >> nth=1 >> pre'), 'notes.md\nplan.txt');
    assert.match(await page.textContent('#events details.tool >> nth=0 >> summary'), /Bash/);
    assert.match(await page.textContent('#events .ev-log'), /a diagnostic line on stderr/);
    assert.equal(await page.locator('#events .prose').count(), 2, 'prose before and after the tool call');

    // 5. Cancel a second run from the page.
    const second = await api('POST', '/api/v1/runs',
      { user: 'bob', engine: 'script', message: 'wait', options: { scenario: 'silent' } });
    assert.equal(second.status, 202);
    const id2 = second.json.id;
    await page.goto(`${base}/dashboard#/run/${id2}`);
    await page.waitForSelector(`#run[data-run="${id2}"] #cancel:not([hidden])`);
    await page.click('#cancel');
    await runViewEnds(id2, 'cancelled');
    const after = await api('GET', '/api/v1/runs/' + id2);
    assert.equal(after.json.status, 'cancelled');

    // 6. History: filter by status, then find a run by id.
    await page.goto(`${base}/dashboard#/history?status=cancelled`);
    await page.waitForSelector(`#history-results tr[data-run="${id2}"]`);
    assert.equal(await page.locator(`#history-results tr[data-run="${id}"]`).count(), 0, 'the filter holds');
    await page.fill('#search input[name=id]', id);
    await page.click('#search button');
    await page.waitForSelector(`#run[data-run="${id}"]`);

    // 6b. Schedules: each one the API made is listed with when it fires; a paused one says so.
    const cron = await api('POST', '/api/v1/schedules',
      { user: 'carol', message: 'summarise the standup', cron: '30 9 * * 1-5', timezone: 'Europe/Berlin' });
    assert.equal(cron.status, 201);
    const every = await api('POST', '/api/v1/schedules', { user: 'dave', message: 'check the build', interval_s: 7200 });
    assert.equal(every.status, 201);
    assert.equal((await api('POST', `/api/v1/schedules/${every.json.id}/pause`)).status, 200);
    await page.click('[data-nav=schedules]');
    await page.waitForSelector(`#schedules tr[data-schedule="${cron.json.id}"]`);
    const cronRow = await page.textContent(`#schedules tr[data-schedule="${cron.json.id}"]`);
    assert.match(cronRow, /cron 30 9 \* \* 1-5 \(Europe\/Berlin\)/);
    assert.match(cronRow, /summarise the standup/);
    assert.equal(await page.textContent(`#schedules tr[data-schedule="${every.json.id}"] .next`), 'paused');
    assert.match(await page.textContent(`#schedules tr[data-schedule="${every.json.id}"]`), /every 2h 0m/);
    for (const s of [cron, every]) assert.equal((await api('DELETE', `/api/v1/schedules/${s.json.id}`)).status, 200);

    // 7. The overview counts both, then a screenshot of it.
    await page.goto(`${base}/dashboard#/`);
    await page.waitForFunction(() => {
      const n = (s) => Number(document.querySelector(`.count[data-status="${s}"] .n`)?.textContent);
      return n('succeeded') === 2 && n('cancelled') === 1;
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-overview.png'), fullPage: true });

    // Readable on a phone: nothing wider than the screen (wide tables scroll inside their own box).
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/dashboard#/run/${id}`);
    await runViewEnds(id, 'succeeded');
    for (const hash of [`#/run/${id}`, '#/', '#/history']) {
      await page.goto(`${base}/dashboard${hash}`);
      await page.waitForSelector(hash === '#/' ? '#recent' : hash === '#/history' ? '#history-results table' : '#final .final');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `${hash} fits a 390 px screen (scrollWidth ${width})`);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });

    // 8. Log out: back to the form, and the old cookie opens nothing.
    await page.click('#logout button');
    await page.waitForURL(base + '/dashboard/login');
    const stale = await fetch(base + '/dashboard/api/overview', { headers: { Cookie: `berth_session=${session.value}` } });
    assert.equal(stale.status, 401, 'the session ended with logout');

    // The wrong-key attempt answered 401 on purpose; chromium reports every 4xx document as a console error.
    const unexpected = consoleErrors.filter((e) => !/status of 401/.test(e) || consoleErrors.indexOf(e) > 0);
    assert.deepEqual(unexpected, [], 'no console errors');
    console.log(`ok: dashboard in chromium (run ${id}, cancelled ${id2}); screenshots in ${ARTIFACTS}`);
  } finally {
    await browser.close();
    berthd.kill('SIGTERM');
    await new Promise((resolve) => (berthd.exitCode !== null ? resolve() : berthd.once('exit', resolve)));
    removeInstanceLeftovers();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  try { removeInstanceLeftovers(); } catch (_) { /* reported below is what matters */ }
  console.error('FAILED:', e && e.stack ? e.stack : e);
  process.exit(1);
});
