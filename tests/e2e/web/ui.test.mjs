// SPDX-License-Identifier: MIT
// Browser tests of the page `loki serve` serves at / (issue 9). Starts real servers on free
// ports (port 0, read back from the start-up line), drives Debian's headless chromium with
// playwright-core, and saves screenshots of the main states. Run through run.sh (ctest
// e2e.web_ui), which sets LOKI_BIN, LOKI_WEB_WORK and LOKI_WEB_NODE_MODULES.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.LOKI_BIN || path.resolve(here, '../../../build/dev/loki');
const WORK = process.env.LOKI_WEB_WORK || fs.mkdtempSync('/tmp/loki-web-');
const SHOTS = path.join(WORK, 'screenshots');
const TMP = path.join(WORK, 'tmp');
const MODULES = process.env.LOKI_WEB_NODE_MODULES || path.join(here, 'node_modules');
const require = createRequire(path.join(MODULES, '..', 'package.json'));
const { chromium } = require('playwright-core');

const SANITIZER = /ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer/;
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

// A privacy notice that breaks GDPR in known places. The first line has characters outside
// ASCII (é: 2 bytes, one code point; 😀: 4 bytes, one code point, two UTF-16 units), so a
// highlight lands on the right text only if code-point offsets are mapped correctly.
const NOTICE = `PRIVACY NOTICE — Café Ünïcode 😀 Ltd

Café Ünïcode Ltd ("we") collects your name, email address and browsing history when you visit
our website. By using our website you agree to everything in this notice.

We share your personal data with our marketing partners. Your data is kept indefinitely.

Contact: jane.doe@gmail.com or call 07911 123456.
`;
const UPLOAD = path.join(here, 'notice.txt');

fs.mkdirSync(SHOTS, { recursive: true });
fs.mkdirSync(TMP, { recursive: true });

// ---- servers -------------------------------------------------------------------------------

async function startServer(name, args = []) {
  const errPath = path.join(TMP, `${name}.stderr`);
  for (const f of [`${name}.audit.db`, `${name}.audit.db-wal`, `${name}.audit.db-shm`])
    fs.rmSync(path.join(TMP, f), { force: true });
  const out = fs.openSync(errPath, 'w');
  const proc = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--audit-db', path.join(TMP, `${name}.audit.db`),
    '--access-log', path.join(TMP, `${name}.access.log`), ...args], { stdio: ['ignore', 'ignore', out] });
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    const text = fs.readFileSync(errPath, 'utf8');
    const m = text.match(/listening on http:\/\/[\d.]+:(\d+)/);
    if (m) return { name, proc, errPath, url: `http://127.0.0.1:${m[1]}` };
    if (proc.exitCode !== null) throw new Error(`${name} exited ${proc.exitCode}:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`${name} did not start:\n${fs.readFileSync(errPath, 'utf8')}`);
}

async function stopServer(s) {
  if (!s || s.stopped) return;
  s.stopped = true;
  if (s.proc.exitCode === null) {
    const done = new Promise((r) => s.proc.once('exit', r));
    s.proc.kill('SIGTERM');
    await done;
  }
  const text = fs.readFileSync(s.errPath, 'utf8');
  assert.ok(!SANITIZER.test(text), `sanitizer report in ${s.name} stderr:\n${text.slice(-4000)}`);
}

// ---- browser helpers -----------------------------------------------------------------------

let browser;
const servers = {};

async function openPage(base, opts = {}) {
  const context = await browser.newContext({
    viewport: opts.viewport || { width: 1280, height: 900 }, acceptDownloads: true,
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  const res = await page.goto(base + '/');
  assert.equal(res.status(), 200);
  await page.waitForSelector('#modules-list[aria-busy=false]');
  return { page, context, problems };
}

// Console problems other than the browser's own note about an HTTP error we provoked.
function unexpected(problems, allowed = []) {
  return problems.filter((p) => !allowed.some((re) => re.test(p)));
}

async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: path.join(SHOTS, name), fullPage });
}

async function check(page, text) {
  await page.fill('#doc-text', text);
  await page.click('#check-btn');
}

async function marks(page) {
  return page.$$eval('#doc-view mark.hl', (ms) => ms.map((m) => ({
    text: m.textContent, fids: m.dataset.fids.split(' '), cls: m.className,
  })));
}

// The text the page highlights for one finding (its marks joined), per span order.
function highlighted(ms, fid) {
  return ms.filter((m) => m.fids.includes(fid)).map((m) => m.text).join('');
}

async function verdictOf(base, text) {
  const r = await fetch(base + '/api/validate', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text }),
  });
  assert.equal(r.status, 200);
  return r.json();
}

// ---- tests ---------------------------------------------------------------------------------

describe('loki serve web page', { timeout: 300000 }, () => {
  before(async () => {
    servers.main = await startServer('main');
    browser = await chromium.launch({ executablePath: process.env.LOKI_CHROMIUM || '/usr/bin/chromium', args: LAUNCH_ARGS });
  });

  after(async () => {
    if (browser) await browser.close();
    for (const s of Object.values(servers)) await stopServer(s);
  });

  test('the page loads under a strict CSP, lists modules, and logs nothing', async () => {
    const base = servers.main.url;
    const r = await fetch(base + '/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    assert.match(r.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/);
    const etag = r.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    assert.equal((await fetch(base + '/', { headers: { 'If-None-Match': etag } })).status, 304);
    const js = await fetch(base + '/app.js');
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    const css = await fetch(base + '/app.css');
    assert.match(css.headers.get('content-type'), /^text\/css/);

    const { page, context, problems } = await openPage(base);
    const nMods = await page.$$eval('#modules-list input[name=module]', (x) => x.length);
    assert.ok(nMods >= 5, `only ${nMods} modules listed`);
    const types = await page.$$eval('#doc-type option', (o) => o.map((x) => x.value));
    assert.ok(types.includes('privacy_notice'), types.join(','));
    await shot(page, '01-start.png');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  test('a violating notice: findings highlighted at the right text, citation on click', async () => {
    const base = servers.main.url;
    const v = await verdictOf(base, NOTICE);
    const consent = v.modules.gdpr_uk.gates.consent;
    const retention = v.modules.gdpr_uk.gates.retention;
    assert.equal(consent.status, 'FAIL');
    assert.equal(retention.status, 'FAIL');

    const { page, context, problems } = await openPage(base);
    await check(page, NOTICE);
    await page.waitForSelector('#overall-risk');
    assert.match(await page.textContent('#overall-risk'), /CRITICAL/);

    const ms = await marks(page);
    assert.equal(highlighted(ms, 'gdpr_uk.consent'), 'By using our website you agree');
    assert.equal(highlighted(ms, 'gdpr_uk.retention'), 'indefinitely');
    const email = v.universal.findIndex((u) => u.type === 'email');
    assert.ok(email >= 0, 'no e-mail finding');
    assert.equal(highlighted(ms, `universal.${email}`), 'jane.doe@gmail.com');
    // Every span of every FAIL/WARNING shown is highlighted exactly at its code points.
    const cps = [...NOTICE];
    for (const [mid, m] of Object.entries(v.modules))
      for (const [gid, g] of Object.entries(m.gates))
        if ((g.status === 'FAIL' || g.status === 'WARNING') && g.spans.length === 1) {
          const sp = g.spans[0];
          assert.equal(highlighted(ms, `${mid}.${gid}`), cps.slice(sp.char_start, sp.char_end).join(''), `${mid}.${gid}`);
        }
    const retMark = ms.find((m) => m.fids.includes('gdpr_uk.retention'));
    assert.match(retMark.cls, /sev-high/);
    assert.match(ms.find((m) => m.fids.includes('gdpr_uk.consent')).cls, /sev-critical/);

    // Summary: counts and a bar per module.
    const tiles = await page.textContent('.tiles');
    assert.match(tiles, new RegExp(`${v.modules.gdpr_uk.summary.fail}\\s*fail`));
    assert.ok(await page.$$eval('.bars li', (l) => l.length) >= 1);
    await shot(page, '02-verdict.png');

    // Clicking a highlight shows the gate, message, citation and suggestion.
    await page.click('#doc-view mark.hl[data-fids~="gdpr_uk.retention"]');
    const detail = await page.textContent('#detail');
    assert.ok(detail.includes(retention.legal_source), detail);
    assert.ok(detail.includes(retention.message.slice(0, 40)), detail);
    assert.ok(detail.includes(retention.suggestion.slice(0, 40)), detail);
    assert.ok(detail.includes('gdpr_uk.retention'), detail);
    await shot(page, '03-finding-detail.png', false);

    // A finding in the side list: selects it, marks its highlight, keyboard works too.
    await page.focus('#findings button[data-fid="gdpr_uk.consent"]');
    await page.keyboard.press('Enter');
    assert.ok((await page.textContent('#detail')).includes(consent.legal_source));
    const active = await page.$$eval('#doc-view mark.active', (x) => x.map((m) => m.textContent).join(''));
    assert.equal(active, 'By using our website you agree');
    assert.equal(await page.getAttribute('#findings button[data-fid="gdpr_uk.consent"]', 'aria-current'), 'true');
    const outline = await page.$eval('#findings button[data-fid="gdpr_uk.consent"]', (b) => getComputedStyle(b).outlineStyle);
    assert.notEqual(outline, 'none', 'no visible focus');
    await page.focus('#doc-view mark.hl[data-fids~="gdpr_uk.retention"]');
    await page.keyboard.press('Enter');
    assert.ok((await page.textContent('#detail-title')).length > 0);
    assert.ok((await page.textContent('#detail')).includes(retention.legal_source));

    // Filters: hiding critical removes the critical highlights and list entries.
    await page.uncheck('#f-sev-critical');
    assert.equal(await page.$$eval('#doc-view mark.sev-critical', (x) => x.length), 0);
    assert.equal(await page.$$eval('#findings .finding.sev-critical', (x) => x.length), 0);
    assert.ok((await marks(page)).some((m) => m.fids.includes('gdpr_uk.retention')));
    await page.check('#f-sev-critical');
    await page.selectOption('#f-module', 'universal');
    const fids = (await marks(page)).flatMap((m) => m.fids);
    assert.ok(fids.length && fids.every((f) => f.startsWith('universal.')), fids.join(','));
    await page.selectOption('#f-module', '');

    // Download the verdict JSON.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-btn')]);
    assert.match(dl.suggestedFilename(), /^loki-verdict-[0-9a-f]{12}\.json$/);
    const saved = path.join(WORK, 'verdict.json');
    await dl.saveAs(saved);
    const j = JSON.parse(fs.readFileSync(saved, 'utf8'));
    assert.equal(j.document_hash, v.document_hash);

    // Copy: the clipboard holds the same verdict.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.click('#copy-btn');
    await page.waitForFunction(() => /copied/.test(document.getElementById('status').textContent));
    const clip = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
    assert.equal(clip.document_hash, v.document_hash);

    // The printable report (print stylesheet) and its PDF.
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.isVisible('#report'), true);
    assert.equal(await page.isVisible('#check-form'), false);
    assert.ok((await page.textContent('#report')).includes(retention.legal_source));
    await shot(page, '04-print-report.png');
    await page.pdf({ path: path.join(SHOTS, 'report.pdf'), format: 'A4', printBackground: true });
    await page.emulateMedia({ media: 'screen' });

    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  test('uploading a .txt file checks its text', async () => {
    const base = servers.main.url;
    const { page, context, problems } = await openPage(base);
    await page.setInputFiles('#doc-file', UPLOAD);
    await page.waitForFunction(() => /notice\.txt/.test(document.getElementById('doc-meta').textContent));
    assert.equal(await page.inputValue('#doc-text'), fs.readFileSync(UPLOAD, 'utf8'));
    await page.selectOption('#doc-type', 'privacy_notice');
    await page.click('#check-btn');
    await page.waitForSelector('#overall-risk');
    const ms = await marks(page);
    assert.equal(highlighted(ms, 'gdpr_uk.retention'), 'indefinitely');
    assert.match(await page.textContent('#summary'), /notice\.txt/);
    assert.match(await page.textContent('#summary'), /Privacy notice/);
    // A file that is not text is refused in the page, before any request.
    await page.setInputFiles('#doc-file', { name: 'scan.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4') });
    assert.match(await page.textContent('#error'), /not a \.txt or \.md file/);
    await shot(page, '05-upload.png');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  test('readable at 320 px: no horizontal scrolling', async () => {
    const { page, context, problems } = await openPage(servers.main.url, { viewport: { width: 320, height: 720 } });
    await check(page, NOTICE);
    await page.waitForSelector('#overall-risk');
    await page.click('#findings button[data-fid="gdpr_uk.retention"]');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 320, `page is ${width}px wide at a 320px viewport`);
    await shot(page, '06-mobile-320.png');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  test('recent validations: hashes and verdicts from the audit log, never text', async () => {
    const base = servers.main.url;
    const v = await verdictOf(base, NOTICE);
    const { page, context, problems } = await openPage(base);
    await page.click('#tab-audit');
    await page.waitForSelector('#audit-rows tr');
    const table = await page.textContent('#audit-table');
    assert.ok(table.includes(v.document_hash.slice(0, 12)), table);
    assert.match(table, /CRITICAL/);
    assert.ok(!table.includes('indefinitely') && !table.includes('jane'), 'document text in the audit view');
    const raw = await (await fetch(base + '/api/audit/recent?limit=5')).text();
    assert.ok(!raw.includes('indefinitely') && !raw.includes('jane.doe'), raw);
    // Arrow keys move between the tabs.
    await page.focus('#tab-audit');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.getAttribute('#tab-check', 'aria-selected'), 'true');
    await page.keyboard.press('ArrowRight');
    await page.waitForSelector('#audit-rows tr');
    await shot(page, '07-audit.png');
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });

  test('413: a document over the body limit gets an honest error; then the server goes down', async () => {
    servers.small = await startServer('small', ['--max-body-bytes', '2k']);
    const { page, context, problems } = await openPage(servers.small.url);
    await check(page, NOTICE + 'More text. '.repeat(400));
    await page.waitForSelector('#error:not([hidden])');
    const err = await page.textContent('#error');
    assert.match(err, /too large/);
    assert.match(err, /2048 bytes/);
    assert.equal(await page.isHidden('#results'), true);
    await shot(page, '08-error-413.png');

    // A small document still works on the same page.
    await check(page, NOTICE);
    await page.waitForSelector('#overall-risk');
    assert.equal(await page.isHidden('#error'), true);

    await stopServer(servers.small);
    await page.click('#check-btn');
    await page.waitForFunction(() => /Cannot reach the LOKI server/.test(document.getElementById('error').textContent));
    assert.equal(await page.isEnabled('#check-btn'), true);
    await shot(page, '09-server-down.png');
    assert.deepEqual(unexpected(problems, [/status of 413/, /ERR_CONNECTION_REFUSED/]), []);
    await context.close();
  });

  test('API keys: the page loads without one, asks for it, then works', async () => {
    servers.keyed = await startServer('keyed', ['--api-keys', 'k3y-for-the-web-test']);
    const base = servers.keyed.url;
    assert.equal((await fetch(base + '/app.js')).status, 200);
    assert.equal((await fetch(base + '/api/modules')).status, 401);
    const { page, context, problems } = await openPage(base);
    await page.waitForSelector('#banner:not([hidden])');
    assert.match(await page.textContent('#banner'), /needs an API key/);
    assert.equal(await page.getAttribute('#settings', 'open'), '');
    await page.fill('#api-key', 'k3y-for-the-web-test');
    await page.dispatchEvent('#api-key', 'change');
    await page.waitForSelector('#modules-list input[name=module]');
    assert.equal(await page.isHidden('#banner'), true);
    await check(page, NOTICE);
    await page.waitForSelector('#overall-risk');
    assert.deepEqual(unexpected(problems, [/status of 401/]), []);
    await context.close();
  });

  test('429: rate limited, with the Retry-After wait shown and the button held', async () => {
    // Burst 2: the module list takes one token, the first check the other.
    servers.limited = await startServer('limited', ['--rate-limit', '0.05', '--rate-burst', '2']);
    const { page, context, problems } = await openPage(servers.limited.url);
    await check(page, NOTICE);
    await page.waitForSelector('#overall-risk');
    await page.fill('#doc-text', NOTICE + '\nSecond version.');
    await page.click('#check-btn');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /rate limit.*Try again in \d+ seconds?/);
    assert.match(await page.textContent('#status'), /check again in \d+ seconds?/);
    assert.equal(await page.isDisabled('#check-btn'), true);
    await shot(page, '10-error-429.png');
    assert.deepEqual(unexpected(problems, [/status of 429/]), []);
    await context.close();
  });
});
