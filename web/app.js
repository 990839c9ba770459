// SPDX-License-Identifier: MIT
// LOKI's web page (issue 9): paste or upload a document, check it through POST /api/validate,
// and show every finding's span highlighted in the text. Plain JavaScript, no dependencies:
// the server embeds this file and forbids inline code and other origins (CSP).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  const SEVERITIES = ['critical', 'high', 'medium', 'low'];
  const SEV_RANK = { critical: 4, high: 3, medium: 2, low: 1, none: 0 };
  const STATUSES = ['FAIL', 'WARNING', 'ERROR', 'PASS', 'N/A'];
  const STATUS_RANK = { FAIL: 4, ERROR: 3, WARNING: 2, PASS: 1, 'N/A': 0 };
  const STATUS_KEY = { FAIL: 'fail', WARNING: 'warning', ERROR: 'error', PASS: 'pass', 'N/A': 'na' };
  const REQUEST_TIMEOUT_MS = 120000;

  const state = {
    modules: [],
    verdict: null,
    raw: '', // the verdict exactly as the server sent it
    cacheHit: '',
    text: '', // the text that was checked (the highlights index into it)
    fileName: '',
    checkedName: '',
    findings: [],
    byId: new Map(),
    selected: null,
    filters: { sev: new Set(SEVERITIES), status: new Set(['FAIL', 'WARNING', 'ERROR']), module: '' },
    busy: false,
    retryUntil: 0,
    retryTimer: 0,
  };

  // ---- small helpers ---------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function humanize(id) {
    const s = String(id || '').replace(/[_-]+/g, ' ').trim();
    return s ? s[0].toUpperCase() + s.slice(1) : '';
  }

  const DETECTORS = {
    pii: 'Personal data', contradiction: 'Contradiction', claims: 'Unsupported claim',
    promotion_risk: 'Promotion risk', consumer_duty: 'Consumer Duty', cross_validation: 'Cross-check',
  };
  function detectorName(d) {
    return DETECTORS[d] || humanize(d);
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many || one + 's'}`;
  }

  const utf8 = new TextEncoder();
  function byteLength(s) {
    return utf8.encode(s).length;
  }

  function formatBytes(n) {
    if (n < 1024) return plural(n, 'byte');
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  function prefersReducedMotion() {
    return window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  }

  // Code-point offsets (what the verdict's char_start/char_end count) to UTF-16 offsets (what
  // JavaScript strings index by). map[cp] = UTF-16 index; map[count] = text.length.
  function codePointMap(text) {
    const map = new Uint32Array(text.length + 1);
    let n = 0;
    for (let i = 0; i < text.length; ) {
      map[n++] = i;
      const c = text.charCodeAt(i);
      const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length &&
        (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      i += pair ? 2 : 1;
    }
    map[n] = text.length;
    return { map, count: n };
  }

  // ---- talking to the server --------------------------------------------------------------

  class ApiError extends Error {
    constructor(kind, status, code, message, retryAfter) {
      super(message);
      this.kind = kind; // 'network' | 'timeout' | 'http'
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter || 0;
    }
  }

  async function api(path, opts = {}) {
    const headers = Object.assign({}, opts.headers);
    const key = $('api-key').value.trim();
    if (key) headers.Authorization = 'Bearer ' + key;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), opts.timeout || REQUEST_TIMEOUT_MS);
    let res;
    let body = '';
    try {
      res = await fetch(path, {
        method: opts.method || 'GET', headers, body: opts.body, cache: 'no-store',
        credentials: 'same-origin', signal: ctl.signal,
      });
      body = await res.text();
    } catch (e) {
      if (ctl.signal.aborted)
        throw new ApiError('timeout', 0, 'timeout', 'The server did not answer in time.');
      throw new ApiError('network', 0, 'network', 'Cannot reach the LOKI server at ' +
        `${location.origin}. Check that \`loki serve\` is running, then try again.`);
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = body ? JSON.parse(body) : null;
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      const err = data && data.error ? data.error
        : { code: 'http_' + res.status, message: res.statusText || 'HTTP ' + res.status };
      const ra = parseInt(res.headers.get('Retry-After') || '', 10);
      throw new ApiError('http', res.status, err.code, err.message, Number.isFinite(ra) ? ra : 0);
    }
    if (data === null)
      throw new ApiError('http', res.status, 'bad_response', 'The server sent a reply that is not JSON.');
    return { data, raw: body, headers: res.headers };
  }

  // A sentence a person can act on, for each way a request can fail.
  function describeError(e, bytes) {
    if (!(e instanceof ApiError)) return 'Something went wrong in the page: ' + e.message;
    if (e.kind !== 'http') return e.message;
    switch (e.status) {
      case 413:
        return 'The document is too large for this server (' + e.message + ')' +
          (bytes ? `; this document is ${formatBytes(bytes)}.` : '.') +
          ' Split it into parts or ask the operator to raise max_body_bytes.';
      case 429:
        return `Too many requests: the server's rate limit was reached. Try again in ${plural(e.retryAfter || 1, 'second')}.`;
      case 401:
        return 'This server needs an API key. Enter it under "Server settings" and try again.';
      case 503:
        return 'The server cannot do this right now: ' + e.message;
      default:
        if (e.status >= 400 && e.status < 500) return 'The server rejected the request: ' + e.message;
        return `The server failed (HTTP ${e.status}): ${e.message}`;
    }
  }

  // ---- banner, status, errors -------------------------------------------------------------

  function showBanner(message, retry) {
    const b = $('banner');
    b.textContent = '';
    b.append(el('span', { text: message }));
    if (retry) b.append(' ', el('button', { type: 'button', text: 'Retry', onclick: retry }));
    b.hidden = false;
  }

  function hideBanner() {
    $('banner').hidden = true;
    $('banner').textContent = '';
  }

  function setStatus(msg) {
    $('status').textContent = msg || '';
  }

  function showError(msg) {
    const e = $('error');
    e.textContent = msg;
    e.hidden = !msg;
  }

  function startRetryCountdown(seconds) {
    state.retryUntil = Date.now() + seconds * 1000;
    clearInterval(state.retryTimer);
    const tick = () => {
      const left = Math.ceil((state.retryUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(state.retryTimer);
        state.retryUntil = 0;
        setStatus('You can check again now.');
        updateButton();
        return;
      }
      setStatus(`Rate limited: you can check again in ${plural(left, 'second')}.`);
      updateButton();
    };
    tick();
    state.retryTimer = setInterval(tick, 1000);
  }

  function updateButton() {
    const btn = $('check-btn');
    btn.disabled = state.busy || state.retryUntil > Date.now();
    btn.textContent = state.busy ? 'Checking…' : 'Check document';
  }

  // ---- modules and document types ---------------------------------------------------------

  async function loadModules() {
    const list = $('modules-list');
    list.setAttribute('aria-busy', 'true');
    try {
      const { data } = await api('/api/modules', { timeout: 20000 });
      state.modules = Array.isArray(data.modules) ? data.modules : [];
      renderModules();
      hideBanner();
    } catch (e) {
      list.textContent = '';
      list.append(el('span', { class: 'hint', text: 'Modules could not be loaded; the check will use all modules.' }));
      if (e.status === 401) {
        $('settings').open = true;
        showBanner(describeError(e), loadModules);
      } else {
        showBanner(describeError(e), loadModules);
      }
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
  }

  function renderModules() {
    const list = $('modules-list');
    list.textContent = '';
    const types = new Set();
    for (const m of state.modules) {
      (m.applies_to || []).forEach((t) => types.add(t));
      const title = m.description ? `${m.description} (${m.gates} gates)` : `${m.gates} gates`;
      list.append(el('label', { class: 'check-inline module', title },
        el('input', { type: 'checkbox', name: 'module', value: m.id }),
        ` ${m.name || m.id} `, el('span', { class: 'hint', text: m.id })));
    }
    if (!state.modules.length) list.append(el('span', { class: 'hint', text: 'No modules loaded.' }));
    const sel = $('doc-type');
    const keep = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    [...types].sort().forEach((t) => sel.append(el('option', { value: t, text: humanize(t) })));
    sel.value = keep;
  }

  // ---- input: paste, upload, drop ---------------------------------------------------------

  let metaPending = false;
  function updateMeta() {
    if (metaPending) return;
    metaPending = true;
    requestAnimationFrame(() => {
      metaPending = false;
      const t = $('doc-text').value;
      const from = state.fileName ? ` · from ${state.fileName}` : '';
      $('doc-meta').textContent =
        `${plural([...t].length, 'character')} · ${formatBytes(byteLength(t))}${from}`;
    });
  }

  async function takeFile(file) {
    showError('');
    if (!file) return;
    if (!/\.(txt|md|markdown|text)$/i.test(file.name) && !/^text\//.test(file.type)) {
      showError(`"${file.name}" is not a .txt or .md file; only plain text and Markdown can be checked here for now.`);
      $('doc-file').value = '';
      return;
    }
    let text;
    try {
      const buf = await file.arrayBuffer();
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    } catch (e) {
      showError(`"${file.name}" is not UTF-8 text, so it cannot be checked. Save it as UTF-8 and try again.`);
      $('doc-file').value = '';
      return;
    }
    $('doc-text').value = text;
    state.fileName = file.name;
    updateMeta();
    setStatus(`Loaded ${file.name} (${formatBytes(file.size)}).`);
  }

  // ---- checking ---------------------------------------------------------------------------

  function requestBody(text) {
    const body = { text };
    const type = $('doc-type').value;
    if (type) body.document_type = type;
    const mods = [...document.querySelectorAll('#modules-list input[name=module]:checked')]
      .map((i) => i.value);
    if (mods.length) body.modules = mods;
    if (!$('opt-universal').checked) body.options = { no_universal: true };
    return JSON.stringify(body);
  }

  // A fetch that fails outright is either a server that is down or one that dropped the
  // connection while the body was still uploading (a body over its limit, a slow upload).
  async function serverUp() {
    try {
      const r = await fetch('/api/health', { cache: 'no-store' });
      return r.status > 0;
    } catch (e) {
      return false;
    }
  }

  async function check(ev) {
    if (ev) ev.preventDefault();
    if (state.busy || state.retryUntil > Date.now()) return;
    const text = $('doc-text').value;
    showError('');
    if (!text.trim()) {
      showError('Paste some text or upload a file first.');
      $('doc-text').focus();
      return;
    }
    state.busy = true;
    updateButton();
    $('results').setAttribute('aria-busy', 'true');
    setStatus('Checking the document…');
    const bytes = byteLength(text);
    try {
      const { data, raw, headers } = await api('/api/validate', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: requestBody(text),
      });
      state.verdict = data;
      state.raw = raw;
      state.cacheHit = headers.get('X-Loki-Cache') || '';
      state.text = text;
      state.checkedName = state.fileName;
      state.selected = null;
      renderResults();
      const n = state.findings.filter((f) => f.status === 'FAIL' || f.status === 'WARNING').length;
      setStatus(`Checked: overall risk ${data.overall_risk}, ${plural(n, 'finding')}.`);
    } catch (e) {
      setStatus('');
      if (e.kind === 'network' && (await serverUp()))
        showError('The server closed the connection before answering. The document ' +
          `(${formatBytes(bytes)}) may be over its size limit, or the upload was too slow; try a smaller document.`);
      else showError(describeError(e, bytes));
      if (e.status === 429) startRetryCountdown(e.retryAfter || 1);
      if (e.status === 401) {
        $('settings').open = true;
        $('api-key').focus();
      }
    } finally {
      state.busy = false;
      $('results').setAttribute('aria-busy', 'false');
      updateButton();
    }
  }

  // ---- verdict → findings -----------------------------------------------------------------

  function universalList(v) {
    if (Array.isArray(v.universal)) return v.universal;
    if (v.universal && Array.isArray(v.universal.findings)) return v.universal.findings;
    return [];
  }

  function buildFindings(v) {
    const out = [];
    for (const [mid, m] of Object.entries(v.modules || {})) {
      for (const [gid, g] of Object.entries(m.gates || {})) {
        out.push({
          id: `${mid}.${gid}`, module: mid, moduleName: m.name || mid, gate: gid,
          title: g.title || humanize(gid), status: g.status, severity: g.severity || 'none',
          message: g.message || '', legal: g.legal_source || '', suggestion: g.suggestion || '',
          penalty: g.penalty || '', spans: g.spans || [],
        });
      }
    }
    universalList(v).forEach((u, i) => {
      out.push({
        id: `universal.${i}`, module: 'universal', moduleName: 'Universal detectors',
        gate: `${u.detector}${u.type ? '.' + u.type : ''}`,
        title: `${detectorName(u.detector)}: ${u.message || humanize(u.type)}`,
        status: u.status, severity: u.severity || 'none', message: u.message || '',
        legal: '', suggestion: u.suggestion || '', penalty: '', confidence: u.confidence,
        spans: u.spans || [],
      });
    });
    const pos = (f) => (f.spans.length ? f.spans[0].char_start : Infinity);
    out.sort((a, b) => (STATUS_RANK[b.status] || 0) - (STATUS_RANK[a.status] || 0) ||
      SEV_RANK[b.severity] - SEV_RANK[a.severity] || pos(a) - pos(b) || a.id.localeCompare(b.id));
    return out;
  }

  function passes(f) {
    const flt = state.filters;
    if (!flt.status.has(f.status)) return false;
    if (f.severity !== 'none' && !flt.sev.has(f.severity)) return false;
    if (flt.module && f.module !== flt.module) return false;
    return true;
  }

  // ---- rendering --------------------------------------------------------------------------

  function renderResults() {
    const v = state.verdict;
    state.findings = buildFindings(v);
    state.byId = new Map(state.findings.map((f) => [f.id, f]));
    renderSummary(v);
    renderFilters(v);
    renderFindings();
    $('results').hidden = false;
    $('summary').scrollIntoView({ block: 'start', behavior: prefersReducedMotion() ? 'auto' : 'smooth' });
  }

  function countByStatus() {
    const c = { FAIL: 0, WARNING: 0, ERROR: 0, PASS: 0, 'N/A': 0 };
    for (const f of state.findings) if (f.module !== 'universal' && f.status in c) c[f.status]++;
    return c;
  }

  function renderSummary(v) {
    const s = $('summary');
    s.textContent = '';
    const risk = v.overall_risk || 'UNKNOWN';
    const head = el('div', { class: 'summary-head' },
      el('div', { class: `risk risk-${risk.toLowerCase()}`, id: 'overall-risk' },
        el('span', { class: 'risk-label', text: 'Overall risk' }), el('strong', { text: risk })));
    const type = v.document_type && v.document_type !== 'unknown'
      ? humanize(v.document_type)
      : (v.document_type_detected && v.document_type_detected.length
        ? `Auto-detected: ${v.document_type_detected.map(humanize).join(', ')}`
        : 'Auto-detect did not recognise the type');
    const meta = el('dl', { class: 'meta' },
      el('dt', { text: 'Document' }), el('dd', { text: (state.checkedName ? state.checkedName + ' · ' : '') + formatBytes(v.document_bytes || 0) }),
      el('dt', { text: 'Type' }), el('dd', { text: type }),
      el('dt', { text: 'SHA-256' }), el('dd', {}, el('code', { title: v.document_hash || '', text: (v.document_hash || '').slice(0, 16) + '…' })),
      el('dt', { text: 'Checked' }), el('dd', { text: [v.timestamp, v.timings ? `${v.timings.total_ms} ms` : '', state.cacheHit === 'hit' ? 'cached' : '', v.engine_version ? `LOKI ${v.engine_version}` : ''].filter(Boolean).join(' · ') }));
    head.append(meta);
    s.append(head);

    const counts = countByStatus();
    const nUniversal = state.findings.filter((f) => f.module === 'universal').length;
    const tiles = el('ul', { class: 'tiles', 'aria-label': 'Gates by status' });
    for (const st of STATUSES)
      tiles.append(el('li', { class: `tile st-${STATUS_KEY[st]}` },
        el('strong', { text: String(counts[st]) }), el('span', { text: st === 'N/A' ? 'not applicable' : st.toLowerCase() })));
    tiles.append(el('li', { class: 'tile st-universal' }, el('strong', { text: String(nUniversal) }), el('span', { text: 'universal' })));
    s.append(tiles);

    const bars = el('ul', { class: 'bars', 'aria-label': 'Results per module' });
    const notApplicable = [];
    for (const [mid, m] of Object.entries(v.modules || {})) {
      if (m.applicable === false) {
        notApplicable.push(m.name || mid);
        continue;
      }
      const sm = m.summary || {};
      const parts = [['fail', sm.fail || 0], ['warning', sm.warning || 0], ['pass', sm.pass || 0], ['na', sm.na || 0], ['error', sm.error || 0]];
      const total = parts.reduce((a, [, n]) => a + n, 0) || 1;
      const label = parts.filter(([, n]) => n).map(([k, n]) => `${n} ${k === 'na' ? 'n/a' : k}`).join(' · ');
      const bar = el('div', { class: 'bar', role: 'img', 'aria-label': `${m.name || mid}: ${label}` });
      for (const [k, n] of parts) {
        if (!n) continue;
        const seg = el('span', { class: `seg seg-${k}` });
        seg.style.width = `${(100 * n) / total}%`; // CSSOM, allowed by the CSP
        bar.append(seg);
      }
      bars.append(el('li', {},
        el('span', { class: 'bar-name', text: m.name || mid }), bar, el('span', { class: 'bar-label hint', text: label })));
    }
    if (bars.childElementCount) s.append(bars);
    if (notApplicable.length)
      s.append(el('p', { class: 'hint not-applicable', text: `Not applicable to this document: ${notApplicable.join(', ')}.` }));
  }

  function chip(name, value, label, count, checked, onchange) {
    const id = `f-${name}-${STATUS_KEY[value] || value}`;
    return el('label', { class: `chip chip-${STATUS_KEY[value] || value}`, for: id },
      el('input', { type: 'checkbox', id, value, checked, onchange }),
      ` ${label} `, el('span', { class: 'count', text: String(count) }));
  }

  function renderFilters() {
    const sevBox = $('f-severity');
    sevBox.textContent = '';
    for (const sv of SEVERITIES) {
      const n = state.findings.filter((f) => f.severity === sv).length;
      sevBox.append(chip('sev', sv, humanize(sv), n, state.filters.sev.has(sv), (e) => {
        toggle(state.filters.sev, sv, e.target.checked);
      }));
    }
    const stBox = $('f-status');
    stBox.textContent = '';
    for (const st of STATUSES) {
      const n = state.findings.filter((f) => f.status === st).length;
      stBox.append(chip('status', st, st === 'N/A' ? 'N/A' : humanize(st.toLowerCase()), n, state.filters.status.has(st), (e) => {
        toggle(state.filters.status, st, e.target.checked);
      }));
    }
    const sel = $('f-module');
    while (sel.options.length > 1) sel.remove(1);
    for (const [mid, m] of Object.entries(state.verdict.modules || {}))
      sel.append(el('option', { value: mid, text: m.name || mid }));
    if (universalList(state.verdict).length)
      sel.append(el('option', { value: 'universal', text: 'Universal detectors' }));
    if (![...sel.options].some((o) => o.value === state.filters.module)) state.filters.module = '';
    sel.value = state.filters.module;
  }

  function toggle(set, value, on) {
    if (on) set.add(value);
    else set.delete(value);
    renderFindings();
  }

  // The document with one <mark> per stretch of text covered by the same set of visible
  // findings, so overlapping spans stay readable; the most serious finding picks the colour.
  function renderDoc(visible) {
    const view = $('doc-view');
    view.textContent = '';
    const text = state.text;
    const { map, count } = codePointMap(text);
    const u16 = (cp) => map[Math.max(0, Math.min(cp, count))];
    const starts = new Map();
    const ends = new Map();
    const points = new Set([0, text.length]);
    for (const f of state.findings) {
      f.marks = [];
      f.spanMarks = [];
    }
    for (const f of visible) {
      f.spans.forEach((sp, k) => {
        const a = u16(sp.char_start);
        const b = u16(sp.char_end);
        if (!(b > a)) return;
        const r = { f, k };
        if (!starts.has(a)) starts.set(a, []);
        if (!ends.has(b)) ends.set(b, []);
        starts.get(a).push(r);
        ends.get(b).push(r);
        points.add(a);
        points.add(b);
      });
    }
    const sorted = [...points].sort((x, y) => x - y);
    const active = new Set();
    const frag = document.createDocumentFragment();
    for (let i = 0; i < sorted.length - 1; i++) {
      const p = sorted[i];
      (ends.get(p) || []).forEach((r) => active.delete(r));
      (starts.get(p) || []).forEach((r) => active.add(r));
      const chunk = text.slice(p, sorted[i + 1]);
      if (!active.size) {
        frag.append(chunk);
        continue;
      }
      const fs = [];
      for (const r of active) if (!fs.includes(r.f)) fs.push(r.f);
      fs.sort((a, b) => (STATUS_RANK[b.status] || 0) - (STATUS_RANK[a.status] || 0) || SEV_RANK[b.severity] - SEV_RANK[a.severity]);
      const top = fs[0];
      const more = fs.length > 1 ? ` (+${fs.length - 1} more)` : '';
      const label = `${top.status} ${top.severity}: ${top.title}${more}`;
      const mark = el('mark', {
        class: `hl sev-${top.severity} st-${STATUS_KEY[top.status] || 'fail'}${fs.length > 1 ? ' multi' : ''}`,
        tabindex: '0', role: 'button', 'aria-label': `${label}: “${chunk.slice(0, 80)}”`, title: label,
        'data-fids': fs.map((f) => f.id).join(' '),
      }, chunk);
      for (const r of active) {
        r.f.marks.push(mark);
        if (!r.f.spanMarks[r.k]) r.f.spanMarks[r.k] = mark;
      }
      frag.append(mark);
    }
    view.append(frag);
  }

  function where(f) {
    if (!f.spans.length) return 'whole document';
    const s = f.spans[0];
    return `line ${s.line}` + (f.spans.length > 1 ? ` (+${f.spans.length - 1})` : '');
  }

  function renderFindings() {
    const visible = state.findings.filter(passes);
    renderDoc(visible);
    const list = $('findings');
    list.textContent = '';
    for (const f of visible) {
      const btn = el('button', {
        type: 'button', class: `finding sev-${f.severity} st-${STATUS_KEY[f.status] || 'fail'}`,
        'data-fid': f.id, 'aria-controls': 'detail', 'aria-current': state.selected === f.id ? 'true' : null,
        onclick: () => select(f.id, { scroll: true }),
      },
        el('span', { class: 'dot', 'aria-hidden': 'true' }),
        el('span', { class: 'f-main' },
          el('span', { class: 'f-title', text: f.title }),
          el('span', { class: 'f-sub', text: `${f.status} · ${f.severity === 'none' ? 'no severity' : f.severity} · ${f.moduleName} · ${where(f)}` })));
      list.append(el('li', {}, btn));
    }
    if (!visible.length)
      list.append(el('li', { class: 'hint empty', text: state.findings.length ? 'No findings match the filters.' : 'No findings.' }));
    $('findings-count').textContent = `(${visible.length} of ${state.findings.length})`;
    renderReport(visible);
    if (state.selected && !visible.some((f) => f.id === state.selected)) state.selected = null;
    if (state.selected) select(state.selected, { scroll: false });
    else clearDetail();
  }

  function clearDetail() {
    const d = $('detail');
    d.textContent = '';
    d.append(el('h3', { id: 'detail-title', text: 'Finding' }),
      el('p', { class: 'hint', text: 'Select a highlight or a finding to see the gate, the message, the legal citation and the suggested fix.' }));
  }

  function select(id, opts = {}) {
    const f = state.byId.get(id);
    if (!f) return;
    state.selected = id;
    document.querySelectorAll('#doc-view mark.active').forEach((m) => m.classList.remove('active'));
    (f.marks || []).forEach((m) => m.classList.add('active'));
    document.querySelectorAll('#findings .finding').forEach((b) => {
      if (b.dataset.fid === id) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    });
    renderDetail(f, opts.others || []);
    if (opts.scroll && f.marks && f.marks.length) scrollToMark(f.marks[0]);
  }

  function scrollToMark(mark) {
    mark.scrollIntoView({ block: 'center', inline: 'nearest', behavior: prefersReducedMotion() ? 'auto' : 'smooth' });
    mark.classList.remove('flash');
    void mark.offsetWidth; // restart the animation
    mark.classList.add('flash');
  }

  function detailFields(f) {
    const dl = el('dl', { class: 'detail-list' });
    const add = (term, value, cls) => {
      if (!value && value !== 0) return;
      dl.append(el('dt', { text: term }), el('dd', { class: cls || null }, value));
    };
    add('Gate', el('code', { text: `${f.module}.${f.gate}` }));
    add('Message', f.message);
    add('Legal citation', f.legal || (f.module === 'universal' ? 'Universal detector: no single legal source' : ''), 'legal');
    add('Suggestion', f.suggestion, 'suggestion');
    add('Penalty', f.penalty);
    if (typeof f.confidence === 'number') add('Confidence', f.confidence.toFixed(2));
    return dl;
  }

  function renderDetail(f, others) {
    const d = $('detail');
    d.textContent = '';
    d.append(el('h3', { id: 'detail-title', text: f.title }),
      el('p', { class: 'badges' },
        el('span', { class: `badge st-${STATUS_KEY[f.status] || 'fail'}`, text: f.status }),
        f.severity !== 'none' ? el('span', { class: `badge sev-${f.severity}`, text: f.severity }) : null,
        el('span', { class: 'badge plain', text: f.moduleName })),
      detailFields(f));
    if (f.spans.length) {
      const locs = el('ul', { class: 'locations' });
      f.spans.forEach((sp, k) => {
        const mark = f.spanMarks && f.spanMarks[k];
        const label = `Line ${sp.line}, column ${sp.column}: “${sp.text}”`;
        locs.append(el('li', {}, mark
          ? el('button', { type: 'button', class: 'link', text: label, onclick: () => scrollToMark(mark) })
          : el('span', { text: label })));
      });
      d.append(el('h4', { text: f.spans.length === 1 ? 'Where' : `Where (${f.spans.length} places)` }), locs);
    } else {
      d.append(el('p', { class: 'hint', text: 'This finding is about the document as a whole (something missing), so no passage is highlighted.' }));
    }
    const rest = others.filter((o) => o !== f.id);
    if (rest.length) {
      const ul = el('ul', { class: 'others' });
      rest.forEach((oid) => {
        const o = state.byId.get(oid);
        ul.append(el('li', {}, el('button', {
          type: 'button', class: 'link', text: `${o.status} ${o.severity}: ${o.title}`,
          onclick: () => select(oid, { others }),
        })));
      });
      d.append(el('h4', { text: 'Also at this passage' }), ul);
    }
  }

  function onMarkActivate(mark) {
    const ids = (mark.dataset.fids || '').split(' ').filter(Boolean);
    if (!ids.length) return;
    select(ids[0], { scroll: false, others: ids });
    $('detail').scrollIntoView({ block: 'nearest', behavior: prefersReducedMotion() ? 'auto' : 'smooth' });
  }

  // The printable report: every visible finding with its citation and fix (print-only).
  function renderReport(visible) {
    const v = state.verdict;
    const head = $('report-head');
    head.textContent = '';
    head.append(el('h2', { text: 'LOKI compliance report' }),
      el('p', { text: `${state.checkedName || 'Pasted document'} · overall risk ${v.overall_risk} · checked ${v.timestamp || ''}` }),
      el('p', { class: 'hint', text: `SHA-256 ${v.document_hash || ''} · LOKI ${v.engine_version || ''} · rules ${(v.ruleset_fingerprint || '').slice(0, 16)}` }),
      el('p', { class: 'hint', text: 'LOKI flags text for review; it is not legal advice.' }));
    const r = $('report');
    r.textContent = '';
    const ol = el('ol', { class: 'report-list' });
    for (const f of visible) {
      const li = el('li', { class: `report-item sev-${f.severity}` },
        el('h3', { text: `${f.status} · ${f.severity} — ${f.title}` }),
        el('p', { class: 'hint', text: `${f.moduleName} · ${f.module}.${f.gate}` }), detailFields(f));
      if (f.spans.length)
        li.append(el('ul', {}, ...f.spans.slice(0, 10).map((sp) => el('li', { text: `Line ${sp.line}, column ${sp.column}: “${sp.text}”` }))));
      ol.append(li);
    }
    r.append(el('h3', { text: `Findings (${visible.length})` }), ol);
  }

  // ---- export -----------------------------------------------------------------------------

  async function copyJson() {
    const text = state.raw;
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
      else legacyCopy(text);
      setStatus('Verdict JSON copied to the clipboard.');
    } catch (e) {
      try {
        legacyCopy(text);
        setStatus('Verdict JSON copied to the clipboard.');
      } catch (e2) {
        setStatus('Copy failed; use "Download JSON" instead.');
      }
    }
  }

  function legacyCopy(text) {
    const ta = $('clip');
    ta.value = text;
    ta.select();
    const ok = document.execCommand('copy');
    ta.value = '';
    if (!ok) throw new Error('copy refused');
  }

  function downloadJson() {
    const blob = new Blob([state.raw], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: `loki-verdict-${(state.verdict.document_hash || 'document').slice(0, 12)}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    setStatus('Verdict JSON downloaded.');
  }

  // ---- recent validations (audit log) -----------------------------------------------------

  async function loadAudit() {
    const status = $('audit-status');
    const table = $('audit-table');
    status.textContent = 'Loading recent validations…';
    $('audit-refresh').disabled = true;
    try {
      const { data } = await api('/api/audit/recent?limit=100', { timeout: 20000 });
      const rows = data.rows || [];
      const body = $('audit-rows');
      body.textContent = '';
      for (const r of rows) {
        const when = new Date(r.ts * 1000);
        body.append(el('tr', {},
          el('td', {}, el('time', { datetime: when.toISOString(), text: when.toLocaleString() })),
          el('td', {}, el('span', { class: `badge risk-${String(r.overall_risk).toLowerCase()}`, text: r.overall_risk })),
          el('td', {}, el('code', { title: r.doc_sha256, text: r.doc_sha256.slice(0, 12) }), el('span', { class: 'hint', text: ` ${formatBytes(r.doc_bytes)}` })),
          el('td', { text: r.doc_type ? humanize(r.doc_type) : 'auto' }),
          el('td', { text: r.modules || 'all' }),
          el('td', { class: 'num', text: String(r.gates.fail) }),
          el('td', { class: 'num', text: String(r.gates.warning) }),
          el('td', { text: r.route }),
          el('td', { text: r.cache_hit ? 'hit' : 'miss' }),
          el('td', { class: 'num', text: r.duration_ms.toFixed(1) })));
      }
      table.hidden = !rows.length;
      status.textContent = rows.length
        ? `${plural(rows.length, 'validation')}, newest first.`
        : 'No validations recorded yet.';
    } catch (e) {
      table.hidden = true;
      status.textContent = e.code === 'audit_disabled'
        ? 'The audit log is off on this server (audit_db = off), so there is nothing to show.'
        : describeError(e);
    } finally {
      $('audit-refresh').disabled = false;
    }
  }

  // ---- tabs -------------------------------------------------------------------------------

  function showTab(which, focus) {
    const tabs = { check: $('tab-check'), audit: $('tab-audit') };
    for (const [name, tab] of Object.entries(tabs)) {
      const on = name === which;
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
      $(tab.getAttribute('aria-controls')).hidden = !on;
      if (on && focus) tab.focus();
    }
    if (which === 'audit') loadAudit();
  }

  // ---- wiring -----------------------------------------------------------------------------

  function init() {
    $('check-form').addEventListener('submit', check);
    $('doc-text').addEventListener('input', () => {
      state.fileName = '';
      updateMeta();
    });
    $('doc-file').addEventListener('change', (e) => takeFile(e.target.files[0]));
    const ta = $('doc-text');
    ta.addEventListener('dragover', (e) => {
      if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) {
        e.preventDefault();
        ta.classList.add('drop');
      }
    });
    ta.addEventListener('dragleave', () => ta.classList.remove('drop'));
    ta.addEventListener('drop', (e) => {
      ta.classList.remove('drop');
      if (e.dataTransfer && e.dataTransfer.files.length) {
        e.preventDefault();
        takeFile(e.dataTransfer.files[0]);
      }
    });
    $('clear-btn').addEventListener('click', () => {
      ta.value = '';
      $('doc-file').value = '';
      state.fileName = '';
      $('results').hidden = true;
      showError('');
      setStatus('');
      updateMeta();
      ta.focus();
    });
    $('api-key').value = sessionStorage.getItem('loki-api-key') || '';
    $('api-key').addEventListener('change', (e) => {
      sessionStorage.setItem('loki-api-key', e.target.value.trim());
      loadModules();
    });
    $('f-module').addEventListener('change', (e) => {
      state.filters.module = e.target.value;
      renderFindings();
    });
    $('copy-btn').addEventListener('click', copyJson);
    $('download-btn').addEventListener('click', downloadJson);
    $('print-btn').addEventListener('click', () => window.print());
    const view = $('doc-view');
    view.addEventListener('click', (e) => {
      const m = e.target.closest('mark.hl');
      if (m) onMarkActivate(m);
    });
    view.addEventListener('keydown', (e) => {
      const m = e.target.closest && e.target.closest('mark.hl');
      if (m && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        onMarkActivate(m);
      }
    });
    $('tab-check').addEventListener('click', () => showTab('check'));
    $('tab-audit').addEventListener('click', () => showTab('audit'));
    document.querySelector('.tabs').addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft' || e.key === 'Home' || e.key === 'End') {
        e.preventDefault();
        const onAudit = $('tab-audit').getAttribute('aria-selected') === 'true';
        const next = e.key === 'Home' ? 'check' : e.key === 'End' ? 'audit' : onAudit ? 'check' : 'audit';
        showTab(next, true);
      }
    });
    $('audit-refresh').addEventListener('click', loadAudit);
    updateMeta();
    updateButton();
    loadModules();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
