// Meridian status page: reads GET /api/v1/overview (live through its
// server-sent-event stream, else polled every 2 s), explains answers with
// GET /api/v1/explain, and, with the admin token, sets the admin
// overrides. No framework, no request to any other host; the DOM is built
// with textContent only (no HTML from data).
'use strict';

(function () {
  const POLL_MS = 2000;
  const PAGE = 50;
  const TOKEN_KEY = 'meridian.adminToken';
  const SVGNS = 'http://www.w3.org/2000/svg';

  const state = {
    overview: null,
    prefix: '',
    cursor: '', // the services page shown: '' for the first
    es: null,
    pollTimer: 0,
    token: '',
    admin: false, // the token was accepted
    selected: '', // the site whose detail is open
    explain: null,
    lastServices: '',
    lastSites: '',
  };

  // ---- DOM helpers ----
  const $ = (sel) => document.querySelector(sel);
  function h(tag, props, ...kids) {
    const e = document.createElement(tag);
    setProps(e, props);
    append(e, kids);
    return e;
  }
  function s(tag, props, ...kids) {
    const e = document.createElementNS(SVGNS, tag);
    if (props) for (const [k, v] of Object.entries(props)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    append(e, kids);
    return e;
  }
  function setProps(e, props) {
    if (!props) return;
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (v === true) e.setAttribute(k, '');
      else e.setAttribute(k, String(v));
    }
  }
  function append(e, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === undefined || k === null || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }
  // rebuild replaces the children of parent, keeping the keyboard focus
  // on the control with the same data-key.
  function rebuild(parent, kids) {
    const active = document.activeElement;
    const key = active && parent.contains(active) && active.dataset ? active.dataset.key : '';
    parent.replaceChildren(...kids);
    if (key) {
      const again = parent.querySelector('[data-key="' + CSS.escape(key) + '"]');
      if (again) again.focus();
    }
  }
  const healthWords = ['up', 'degraded', 'down', 'unknown'];
  const healthClass = (w) => 'h-' + (healthWords.includes(w) ? w : 'unknown');
  const badge = (word, cls) => h('span', { class: 'badge ' + (cls || healthClass(word)), text: word || 'unknown' });
  const pct = (x) => (x > 0 && x < 0.005 ? '<1' : Math.round((x || 0) * 100)) + '%';

  function ago(iso) {
    if (!iso) return '';
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return '';
    let d = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (d < 90) return d + ' s ago';
    d = Math.round(d / 60);
    if (d < 90) return d + ' min ago';
    d = Math.round(d / 60);
    if (d < 36) return d + ' h ago';
    return Math.round(d / 24) + ' d ago';
  }
  const when = (iso) => (iso ? h('time', { datetime: iso, title: iso, text: ago(iso) }) : '');

  // ---- live data ----
  function query() {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (state.prefix) q.set('prefix', state.prefix);
    if (state.cursor) q.set('cursor', state.cursor);
    return q.toString();
  }

  function setLive(text, cls) {
    const e = $('#live');
    e.textContent = text;
    e.className = 'live ' + (cls || '');
  }

  function stop() {
    if (state.es) {
      state.es.close();
      state.es = null;
    }
    clearTimeout(state.pollTimer);
    state.pollTimer = 0;
  }

  // connect streams the overview; when the stream fails it polls.
  function connect() {
    stop();
    if (!('EventSource' in window)) {
      poll();
      return;
    }
    const es = new EventSource('/api/v1/overview/stream?' + query());
    state.es = es;
    es.addEventListener('overview', (ev) => {
      if (state.es !== es) return;
      setLive('live', 'ok');
      render(JSON.parse(ev.data));
    });
    es.addEventListener('error', () => {
      if (state.es !== es) return;
      es.close();
      state.es = null;
      setLive('stream failed: polling every 2 s', 'warn');
      poll();
    });
  }

  let polls = 0;
  async function poll() {
    clearTimeout(state.pollTimer);
    const q = query();
    try {
      const r = await fetch('/api/v1/overview?' + q, { cache: 'no-store' });
      const body = await r.json();
      if (q !== query()) return; // the page changed meanwhile
      if (!r.ok) throw new Error(body.error || r.status + ' ' + r.statusText);
      render(body);
      setLive('polling every 2 s', 'warn');
    } catch (err) {
      setLive('no data: ' + err.message, 'bad');
    }
    // Try the stream again now and then: it is cheaper than polling.
    if (++polls % 15 === 0 && 'EventSource' in window) {
      connect();
      return;
    }
    state.pollTimer = setTimeout(poll, POLL_MS);
  }

  // ---- rendering ----
  function render(o) {
    const first = !state.overview;
    state.overview = o;
    renderHeader(o);
    renderMarkers(o);
    renderSites(o);
    renderServices(o);
    renderGossip(o.gossip);
    renderKube(o.kubernetes);
    if (state.explain) drawExplain(state.explain);
    // the first render with data, for the browser tests' timing
    if (first && performance.mark) performance.mark('meridian:first-render');
  }

  function renderHeader(o) {
    const n = o.node || {};
    const bits = [n.role || 'standalone'];
    if (n.site) bits.push('site ' + n.site);
    if (n.version) bits.push(n.version);
    bits.push('generation ' + o.generation, 'rule ' + (o.rule || '?'));
    $('#node').textContent = bits.join(' · ');
    // The window grows from the server's first overview to a minute.
    const win = Math.round(o.window_seconds || 0);
    const span = win >= 59 ? 'minute' : Math.max(1, win) + ' s';
    $('#window').textContent = span;
    $('#sites-sum').textContent = (o.sites || []).length + ' sites · ' + (o.answers_total || 0) + ' answers in the last ' + span;
  }

  // ---- the map ----
  const proj = (lat, lon) => [(lon + 180) * 10, (90 - lat) * 10];
  const hasCoords = (x) => x && typeof x.lat === 'number' && typeof x.lon === 'number';
  // unit is the map's units per CSS pixel: markers keep their size on
  // screen whatever the map's width.
  function unit() {
    const w = $('#map').getBoundingClientRect().width;
    return w > 0 ? 3600 / w : 3;
  }
  const markers = new Map(); // site name -> {g, circle, text, title}

  function siteLabel(st) {
    return st.name + ': ' + (st.health || 'unknown') + ', ' + (st.members_up || 0) + ' of ' + (st.members || 0) +
      ' members up, ' + pct(st.answer_share) + ' of the answers' + (st.admin ? ', override ' + st.admin : '');
  }

  function renderMarkers(o) {
    const layer = $('#markers');
    const u = unit();
    const seen = new Set();
    for (const st of o.sites || []) {
      if (!hasCoords(st)) continue;
      seen.add(st.name);
      let m = markers.get(st.name);
      if (!m) {
        const title = s('title');
        const circle = s('circle');
        const text = s('text', { 'text-anchor': 'middle' });
        const g = s('g', { class: 'site', tabindex: '0', role: 'button', 'data-site': st.name }, title, circle, text);
        g.addEventListener('click', () => select(st.name));
        g.addEventListener('keydown', (ev) => {
          if (ev.key === 'Enter' || ev.key === ' ') {
            ev.preventDefault();
            select(st.name);
          }
        });
        layer.append(g);
        m = { g, circle, text, title };
        markers.set(st.name, m);
      }
      const [x, y] = proj(st.lat, st.lon);
      const r = (7 + 16 * Math.sqrt(Math.max(0, st.answer_share || 0))) * u;
      m.g.setAttribute('class', 'site ' + healthClass(st.health) + (state.selected === st.name ? ' selected' : ''));
      m.g.setAttribute('data-health', st.health || 'unknown');
      m.g.setAttribute('data-share', String(st.answer_share || 0));
      m.g.setAttribute('aria-label', siteLabel(st));
      m.title.textContent = siteLabel(st) + viewsText(st.views);
      m.circle.setAttribute('cx', x);
      m.circle.setAttribute('cy', y);
      m.circle.setAttribute('r', r.toFixed(1));
      m.circle.setAttribute('stroke-width', (2 * u).toFixed(1));
      m.text.setAttribute('x', x);
      m.text.setAttribute('y', (y - r - 5 * u).toFixed(1));
      m.text.setAttribute('font-size', (12 * u).toFixed(1));
      m.text.setAttribute('stroke-width', (3 * u).toFixed(1));
      m.text.textContent = st.name + ' ' + pct(st.answer_share);
    }
    for (const [name, m] of markers) {
      if (!seen.has(name)) {
        m.g.remove();
        markers.delete(name);
      }
    }
    renderDetail();
  }

  function viewsText(views) {
    if (!views || !views.length) return '';
    return '\n' + views.map((v) => v.source + ': ' + v.health + ' (' + v.members_up + '/' + v.members + ')').join('\n');
  }

  function select(name) {
    state.selected = state.selected === name ? '' : name;
    if (state.overview) renderMarkers(state.overview);
  }

  function renderDetail() {
    const box = $('#site-detail');
    const st = state.overview && (state.overview.sites || []).find((x) => x.name === state.selected);
    if (!st) {
      box.hidden = true;
      box.dataset.sig = '';
      return;
    }
    box.hidden = false;
    const sig = JSON.stringify(st);
    if (box.dataset.sig === sig) return;
    box.dataset.sig = sig;
    rebuild(box, [
      h('h3', null, st.name + ' ', badge(st.health)),
      h('p', { class: 'muted', text: [st.country, st.continent, hasCoords(st) ? st.lat + ', ' + st.lon : ''].filter(Boolean).join(' · ') }),
      h('p', null, (st.members_up || 0) + ' of ' + (st.members || 0) + ' members up; ' + (st.answers || 0) + ' answers (' + pct(st.answer_share) + ')' + (st.admin ? '; override: ' + st.admin : '')),
      h('table', null,
        h('caption', { class: 'sr', text: 'Each source\'s view of ' + st.name }),
        h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'Source' }), h('th', { scope: 'col', text: 'Health' }), h('th', { scope: 'col', text: 'Members up' }))),
        h('tbody', null, (st.views || []).map((v) => h('tr', null, h('td', { class: 'mono', text: v.source }), h('td', null, badge(v.health)), h('td', { class: 'num', text: v.members_up + ' / ' + v.members }))))),
      h('button', { type: 'button', 'data-key': 'close-detail', onclick: () => select(st.name), text: 'Close' }),
    ]);
  }

  async function loadLand() {
    const svg = $('#map');
    try {
      const r = await fetch(svg.dataset.land);
      if (!r.ok) throw new Error(r.status + ' ' + r.statusText);
      const doc = new DOMParser().parseFromString(await r.text(), 'image/svg+xml');
      const p = doc.getElementById('land');
      if (p) $('#land').setAttribute('d', p.getAttribute('d'));
    } catch (err) {
      setLive('map data: ' + err.message, 'bad');
    }
  }

  // ---- the sites table ----
  function renderSites(o) {
    const sig = JSON.stringify([o.sites, state.admin]);
    if (sig === state.lastSites) return;
    state.lastSites = sig;
    const rows = (o.sites || []).map((st) => h('tr', { 'data-site': st.name },
      h('th', { scope: 'row' }, h('button', { type: 'button', class: 'linkish', 'data-key': 'site:' + st.name, 'aria-label': 'Show ' + st.name + ' on the map', onclick: () => select(st.name), text: st.name })),
      h('td', null, badge(st.health)),
      h('td', { class: 'num', text: (st.members_up || 0) + ' / ' + (st.members || 0) }),
      h('td', { class: 'num', text: (st.answers || 0) + ' (' + pct(st.answer_share) + ')' }),
      h('td', null, h('span', { class: 'views' }, (st.views || []).map((v) => badge(v.source + ' ' + v.members_up + '/' + v.members, healthClass(v.health))))),
      h('td', { text: st.admin || '' }),
      h('td', { class: 'admin-only' }, adminButtons('site:' + st.name, st.admin, (mode) => setSite(st.name, mode), st.name))));
    rebuild($('#sites-table tbody'), rows);
  }

  // loadBadge shows a load-shedding member's signal: its value, and
  // whether it sheds (over the high watermark: every new network).
  function loadBadge(l) {
    if (!l) return '';
    const title = l.state + (l.source ? ' (from ' + l.source + (l.age_s != null ? ', ' + l.age_s.toFixed(1) + ' s old' : '') + ')' : '');
    if (l.value == null || l.stale) return h('span', { class: 'load', title }, ' ', badge('load: neutral', 'h-unknown'));
    let text = 'load ' + l.value;
    let cls = 'h-up';
    if (l.over) { text += ' · shed'; cls = 'h-down'; } else if (l.shed > 0) { text += ' · shed ' + Math.round(l.shed * 100) + '%'; cls = 'h-degraded'; }
    return h('span', { class: 'load', title }, ' ', badge(text, cls));
  }

  // ---- the services table ----
  function renderServices(o) {
    const total = o.services_total || 0;
    const list = o.services || [];
    $('#services-sum').textContent = total + (state.prefix ? ' matching "' + state.prefix + '"' : '') + (list.length < total ? ', ' + list.length + ' on this page' : '');
    $('#page-next').disabled = !o.next;
    $('#page-next').dataset.next = o.next || '';
    $('#page-first').disabled = !state.cursor;
    const sig = JSON.stringify([list, state.admin]);
    if (sig === state.lastServices) {
      // only the relative times move
      for (const t of document.querySelectorAll('#services-table time')) t.textContent = ago(t.dateTime);
      return;
    }
    state.lastServices = sig;
    const bodies = list.map((svc) => {
      const head = h('tr', null, h('th', { colspan: '9', scope: 'rowgroup' },
        h('span', { class: 'mono', text: svc.name }), ' ',
        h('span', { class: 'muted', text: (svc.strategy || '') + ' · TTL ' + svc.ttl + ' s · ' + (svc.members || []).length + ' members ' }),
        svc.degraded ? badge('degraded', 'h-degraded') : badge('ok', 'h-up')));
      const rows = (svc.members || []).map((m) => h('tr', { 'data-member': m.id },
        h('td', { class: 'mono', text: m.id + (m.hostname ? ' (' + m.hostname + ')' : '') + (m.addresses && m.addresses.length && !m.id.endsWith(m.addresses[0]) ? ' ' + m.addresses.join(', ') : '') }),
        h('td', { text: m.site }),
        h('td', null, badge(m.health), m.eligible ? '' : h('span', { class: 'muted', text: ' not answered' })),
        h('td', { title: m.detail || '' }, h('span', { class: 'views' }, (m.views || []).map((v) => h('span', { title: (v.since ? 'since ' + v.since : '') + (v.error ? ' — ' + v.error : '') }, badge(v.source + ' ' + v.health, healthClass(v.health))))), loadBadge(m.load)),
        h('td', { class: 'num', text: m.weight }),
        h('td', { class: 'num', text: m.priority }),
        h('td', null, when(m.since)),
        h('td', { text: m.admin || '' }),
        h('td', { class: 'admin-only' }, adminButtons('member:' + svc.name + '|' + m.id, m.admin, (mode) => setMember(svc.name, m.id, mode), m.id))));
      return h('tbody', { class: 'svc', 'data-service': svc.name }, head, rows);
    });
    if (!bodies.length) bodies.push(h('tbody', null, h('tr', null, h('td', { colspan: '9', class: 'muted', text: state.prefix ? 'No service starts with "' + state.prefix + '".' : 'No services.' }))));
    const table = $('#services-table');
    const active = document.activeElement;
    const key = active && table.contains(active) && active.dataset ? active.dataset.key : '';
    for (const b of [...table.tBodies]) b.remove();
    table.append(...bodies);
    if (key) {
      const again = table.querySelector('[data-key="' + CSS.escape(key) + '"]');
      if (again) again.focus();
    }
  }

  // adminButtons are the override buttons of a site or member; shown
  // only once the token was accepted (the column is hidden otherwise).
  function adminButtons(key, current, set, what) {
    if (!state.admin) return '';
    const b = (mode, label, cls) => h('button', {
      type: 'button', class: cls || '', 'data-key': key + ':' + mode, 'aria-label': label + ' ' + what,
      disabled: current === mode || (mode === '' && !current), onclick: () => set(mode), text: label,
    });
    return h('span', { class: 'actions' }, b('drain', 'Drain', 'danger'), b('down', 'Down', 'danger'), b('up', 'Up'), b('', 'Clear'));
  }

  // ---- admin ----
  async function adminCall(method, path, mode) {
    const opts = { method, headers: { Authorization: 'Bearer ' + state.token } };
    if (method === 'PUT') {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify({ mode });
    }
    const r = await fetch(path, opts);
    let body = {};
    try {
      body = await r.json();
    } catch (_) {
      // no JSON body
    }
    if (!r.ok) throw new Error(body.error || r.status + ' ' + r.statusText);
    return body;
  }
  const seg = (x) => encodeURIComponent(x);
  async function setSite(site, mode) {
    await adminAction(mode ? 'PUT' : 'DELETE', '/api/v1/admin/sites/' + seg(site), mode, site);
  }
  async function setMember(service, member, mode) {
    await adminAction(mode ? 'PUT' : 'DELETE', '/api/v1/admin/members/' + seg(service) + '/' + member.split('/').map(seg).join('/'), mode, member);
  }
  async function adminAction(method, path, mode, what) {
    const out = $('#token-state');
    try {
      await adminCall(method, path, mode);
      out.textContent = what + ': ' + (mode ? 'override ' + mode : 'override cleared');
      out.className = '';
      if (!state.es) poll();
    } catch (err) {
      out.textContent = what + ': ' + err.message;
      out.className = 'error';
    }
  }

  async function useToken(token) {
    state.token = token;
    const out = $('#token-state');
    $('#token-forget').hidden = !token;
    if (!token) {
      sessionStorage.removeItem(TOKEN_KEY);
      setAdmin(false);
      out.textContent = '';
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      await adminCall('GET', '/api/v1/admin');
      setAdmin(true);
      out.textContent = 'admin actions enabled';
      out.className = '';
    } catch (err) {
      setAdmin(false);
      out.textContent = 'token refused: ' + err.message;
      out.className = 'error';
    }
  }
  function setAdmin(on) {
    state.admin = on;
    document.body.classList.toggle('admin', on);
    if (state.overview) render(state.overview);
  }

  // ---- explain ----
  async function explain(ev) {
    ev.preventDefault();
    const out = $('#explain-out');
    const q = new URLSearchParams({ name: $('#ex-name').value.trim(), type: $('#ex-type').value, client: $('#ex-client').value.trim() });
    rebuild(out, [h('p', { class: 'muted', text: 'explaining…' })]);
    try {
      const r = await fetch('/api/v1/explain?' + q.toString(), { cache: 'no-store' });
      const body = await r.json();
      if (!r.ok) throw new Error(body.error || r.status + ' ' + r.statusText);
      state.explain = body;
      showExplain(body);
      drawExplain(body);
      $('#ex-clear').hidden = false;
    } catch (err) {
      state.explain = null;
      drawExplain(null);
      rebuild(out, [h('p', { class: 'error', role: 'alert', text: err.message })]);
    }
  }

  function showExplain(x) {
    const a = x.answer || {};
    const t = x.trace || {};
    const loc = t.located;
    const kv = (pairs) => h('dl', { class: 'kv' }, pairs.filter((p) => p[1] !== '' && p[1] !== undefined && p[1] !== null).map(([k, v]) => [h('dt', { text: k }), h('dd', null, v)]));
    const parts = [
      h('h3', { text: x.query.name + ' ' + x.query.type + ' from ' + x.query.client }),
      kv([
        ['Result', a.result],
        ['Answer', (a.addresses || []).join(', ') || (a.target ? 'CNAME ' + a.target : '—')],
        ['Site', a.site || ''],
        ['TTL', a.ttl + ' s'],
        ['ECS scope', '/' + a.scope_prefix],
        ['Degraded', a.degraded ? 'yes' : 'no'],
        ['Why', a.reason + (a.rule ? ' (' + a.rule + ')' : '')],
        ['Located', loc ? [loc.source, loc.network, loc.site, loc.country, loc.continent, hasCoords(loc) || loc.lat || loc.lon ? (loc.lat || 0) + ', ' + (loc.lon || 0) : ''].filter(Boolean).join(' · ') : ''],
        ['Compiled', t.compiled ? t.compiled.network + ': ' + (t.compiled.order || []).join(' > ') : ''],
        ['Note', x.note || ''],
      ]),
    ];
    if (t.steps && t.steps.length) parts.push(h('h4', { text: 'Steps' }), h('ol', { class: 'steps' }, t.steps.map((st) => h('li', { text: st }))));
    const side = [];
    if (t.members && t.members.length) {
      side.push(h('h4', { text: 'Members' }), h('div', { class: 'scroll' }, h('table', { class: 'ex-members' },
        h('caption', { class: 'sr', text: 'What the decision made of each member' }),
        h('thead', null, h('tr', null, ['Member', 'Site', 'Priority', 'Weight', 'Health', 'Distance', 'Verdict'].map((c) => h('th', { scope: 'col', text: c })))),
        h('tbody', null, t.members.map((m) => h('tr', null,
          h('td', { class: 'mono', text: m.member }),
          h('td', { text: m.site }),
          h('td', { class: 'num', text: m.priority }),
          h('td', { class: 'num', text: m.weight }),
          h('td', { title: m.health || '' }, badge(!m.health_known ? 'unknown' : m.up ? 'up' : 'down'), m.admin ? ' ' + m.admin : ''),
          h('td', { class: 'num', text: m.distance_km !== undefined && m.distance_km !== null ? Math.round(m.distance_km) + ' km' : '' }),
          h('td', { text: m.verdict })))))));
    }
    rebuild($('#explain-out'), [parts[0], h('div', null, parts.slice(1)), h('div', null, side)]);
  }

  // chosenSites are the sites whose members the answer named.
  function chosenSites(x) {
    const out = new Set();
    if (x.answer && x.answer.site) out.add(x.answer.site);
    const t = x.trace || {};
    for (const m of t.members || []) {
      const addr = m.member.slice(m.member.indexOf('/') + 1);
      if ((t.answered || []).includes(addr) || (t.answered || []).includes('CNAME ' + addr)) out.add(m.site);
    }
    return out;
  }

  function drawExplain(x) {
    const layer = $('#explain-layer');
    if (!x || !state.overview) {
      layer.replaceChildren();
      return;
    }
    const u = unit();
    const loc = x.trace && x.trace.located;
    const sites = new Map((state.overview.sites || []).filter(hasCoords).map((st) => [st.name, st]));
    let from = null;
    if (loc && ('lat' in loc || 'lon' in loc)) from = proj(loc.lat || 0, loc.lon || 0);
    else if (loc && loc.site && sites.has(loc.site)) from = proj(sites.get(loc.site).lat, sites.get(loc.site).lon);
    const kids = [];
    if (from) {
      for (const name of chosenSites(x)) {
        const st = sites.get(name);
        if (!st) continue;
        const [x2, y2] = proj(st.lat, st.lon);
        kids.push(s('line', { class: 'ex-line', x1: from[0], y1: from[1], x2, y2, 'stroke-width': (2.5 * u).toFixed(1), 'data-to': name }));
      }
      kids.push(s('circle', { class: 'ex-client', cx: from[0], cy: from[1], r: (5 * u).toFixed(1), 'stroke-width': (1.5 * u).toFixed(1) }));
      kids.push(s('text', { class: 'ex-label', x: from[0] + 8 * u, y: from[1] + 4 * u, 'font-size': (11 * u).toFixed(1), 'stroke-width': (3 * u).toFixed(1) }, 'client ' + x.query.client));
    }
    layer.replaceChildren(...kids);
  }

  // ---- gossip and kubernetes ----
  function renderGossip(g) {
    const panel = $('#gossip-panel');
    panel.hidden = !g;
    if (!g) return;
    $('#gossip-sum').textContent = 'node ' + g.node + ' · site ' + g.site + ' · ' + g.role + ' · ' + (g.joined ? 'joined' : 'not joined') + (g.state_version ? ' · state ' + g.state_version : '');
    rebuild($('#gossip-table tbody'), (g.members || []).map((m) => h('tr', null,
      h('td', { class: 'mono', text: m.name }),
      h('td', { text: m.site }),
      h('td', { text: m.role }),
      h('td', null, badge(m.status, m.status === 'alive' ? 'h-up' : m.status === 'suspect' ? 'h-degraded' : 'h-down')),
      h('td', { class: 'mono', text: m.state_version || '' }),
      h('td', { text: typeof m.lag_seconds === 'number' ? m.lag_seconds.toFixed(1) + ' s' : m.behind ? 'behind' : 'current' }))));
  }

  function renderKube(k) {
    const panel = $('#kube-panel');
    panel.hidden = !k;
    if (!k) return;
    const stale = (k.clusters || []).filter((c) => c.stale).length;
    $('#kube-sum').textContent = (k.leading ? 'leading' : 'not leading') + ' · ' + (k.clusters || []).length + ' clusters' + (stale ? ', ' + stale + ' stale' : '');
    rebuild($('#kube-clusters tbody'), (k.clusters || []).map((c) => h('tr', null,
      h('td', { class: 'mono', text: c.context }), h('td', { text: c.site }), h('td', null, c.stale ? badge('stale', 'h-down') : badge('fresh', 'h-up')))));
    const pol = k.policies || [];
    $('#kube-policies').hidden = !pol.length;
    rebuild($('#kube-policies tbody'), pol.map((p) => h('tr', null,
      h('td', { text: p.kind }), h('td', { class: 'mono', text: p.name }), h('td', null, p.accepted ? badge('accepted', 'h-up') : badge('rejected', 'h-down')), h('td', { text: p.message || p.reason || '' }))));
    rebuild($('#kube-problems'), (k.problems || []).map((p) => h('li', { class: 'error', text: p })));
  }

  // ---- wiring ----
  function setPage(cursor) {
    state.cursor = cursor;
    state.lastServices = '';
    if (state.es) connect();
    else poll();
  }

  function init() {
    $('#filter-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      state.prefix = $('#prefix').value.trim().toLowerCase();
      setPage('');
    });
    $('#page-next').addEventListener('click', (ev) => setPage(ev.currentTarget.dataset.next || ''));
    $('#page-first').addEventListener('click', () => setPage(''));
    $('#explain-form').addEventListener('submit', explain);
    $('#ex-clear').addEventListener('click', () => {
      state.explain = null;
      drawExplain(null);
      $('#explain-out').replaceChildren();
      $('#ex-clear').hidden = true;
    });
    $('#token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = $('#token').value.trim();
      $('#token').value = '';
      useToken(v);
    });
    $('#token-forget').addEventListener('click', () => useToken(''));
    let resize = 0;
    window.addEventListener('resize', () => {
      clearTimeout(resize);
      resize = setTimeout(() => {
        if (state.overview) render(state.overview);
      }, 100);
    });
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) useToken(saved);
    loadLand();
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
