// The admin page: plain DOM, the JSON API under /api with the session cookie and the CSRF header.
'use strict';

const $ = (id) => document.getElementById(id);
let csrf = null;
let tenant = null;
let logsBefore = null;

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && path !== '/session') showLogin();
  if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
  return data;
}

function say(el, text, ok) {
  el.textContent = text;
  el.className = ok ? 'ok' : 'error';
}

function showLogin() {
  csrf = null;
  $('login-view').hidden = false;
  $('app-view').hidden = true;
  $('logout').hidden = true;
}

async function showApp() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('logout').hidden = false;
  await loadTenants();
}

async function loadTenants() {
  const { tenants } = await call('GET', '/api/tenants');
  const list = $('tenants');
  list.replaceChildren();
  for (const t of tenants) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.textContent = t.id;
    b.dataset.tenant = t.id;
    if (t.id === tenant) b.classList.add('current');
    b.addEventListener('click', () => openTenant(t.id));
    li.append(b);
    list.append(li);
  }
}

async function openTenant(id) {
  tenant = id;
  $('tenant-view').hidden = false;
  $('tenant-title').textContent = id;
  for (const b of document.querySelectorAll('#tenants button')) b.classList.toggle('current', b.dataset.tenant === id);
  $('connection-result').textContent = '';
  $('settings-result').textContent = '';
  $('notify-result').textContent = '';
  $('sync-plan').replaceChildren();
  $('run-sync').disabled = true;
  $('sync-progress').hidden = true;
  for (const f of ['humaans-token', 'scim-token', 'webhook-secret', 'notify-secret']) $(f).value = '';
  try {
    const c = await call('GET', `/api/tenants/${encodeURIComponent(id)}/connection`);
    $('humaans-url').value = c.humaans_url || '';
    $('scim-url').value = c.scim_url || '';
    const s = await call('GET', `/api/tenants/${encodeURIComponent(id)}/settings`);
    showSettings(s);
  } catch (e) {
    $('humaans-url').value = '';
    $('scim-url').value = '';
  }
  selectTab('connection');
}

function showSettings(s) {
  $('provisioning-on').checked = s.provisioning !== 'off';
  const [timing, days] = s.provisioning.split(':');
  if (s.provisioning !== 'off') $('provisioning-timing').value = timing;
  if (days) $('days-before').value = days;
  $('deprovisioning-on').checked = s.deprovisioning !== 'off';
  if (s.deprovisioning !== 'off') $('deprovisioning-action').value = s.deprovisioning;
  $('dialect').value = s.dialect;
  $('teams-on').checked = s.teams === true;
  $('log-retention').value = s.log_retention ?? '';
}

// The notification settings as the API shows them: never the secret, only whether one is set.
function showNotify(n) {
  $('notify-url').value = n.notify_url || '';
  $('notify-secret').value = '';
  $('notify-unsign').checked = false;
  $('notify-signed').textContent = n.notify_signed
    ? 'A signing secret is set: each message carries an X-Signature header. Type a new one to replace it.'
    : 'No signing secret: messages are not signed.';
  for (const box of document.querySelectorAll('#notify-form [data-kind]')) box.checked = n.notify_on.includes(box.dataset.kind);
}

// Read when the tab opens: a tenant connected since it was opened has settings now.
async function loadNotify() {
  try {
    showNotify(await call('GET', `/api/tenants/${encodeURIComponent(tenant)}/notifications`));
  } catch (e) {
    say($('notify-result'), e.message, false);
  }
}

async function saveNotify(ev) {
  ev.preventDefault();
  const url = $('notify-url').value.trim();
  const body = {
    url: url === '' ? null : url,
    on: [...document.querySelectorAll('#notify-form [data-kind]')].filter((b) => b.checked).map((b) => b.dataset.kind),
  };
  if ($('notify-secret').value) body.secret = $('notify-secret').value;
  else if ($('notify-unsign').checked) body.secret = null;
  try {
    showNotify(await call('PATCH', `/api/tenants/${encodeURIComponent(tenant)}/notifications`, body));
    say($('notify-result'), url === '' ? 'Saved: notifications are off.' : 'Saved.', true);
  } catch (e) {
    say($('notify-result'), e.message, false);
  }
}

function selectTab(name) {
  for (const b of document.querySelectorAll('[role=tab]')) b.setAttribute('aria-selected', String(b.dataset.tab === name));
  for (const p of document.querySelectorAll('.panel')) p.hidden = p.id !== `panel-${name}`;
  if (name === 'logs') loadLogs(true);
  if (name === 'configuration') loadNotify();
}

async function saveConnection(ev) {
  ev.preventDefault();
  const body = {
    humaans_url: $('humaans-url').value, scim_url: $('scim-url').value,
    humaans_token: $('humaans-token').value, scim_token: $('scim-token').value,
  };
  if ($('webhook-secret').value) body.webhook_secret = $('webhook-secret').value;
  if ($('scim-rate-limit').value !== '') body.scim_rate_limit = Number($('scim-rate-limit').value);
  say($('connection-result'), 'Verifying…', true);
  try {
    const r = await call('PUT', `/api/tenants/${encodeURIComponent(tenant)}/connection`, body);
    say($('connection-result'), `Connected: ${r.company} (${r.scim_users} users in Leapsome)`, true);
    for (const f of ['humaans-token', 'scim-token', 'webhook-secret']) $(f).value = '';
    await loadTenants();
  } catch (e) {
    say($('connection-result'), e.message, false);
  }
}

async function saveSettings(ev) {
  ev.preventDefault();
  let provisioning = 'off';
  if ($('provisioning-on').checked) {
    provisioning = $('provisioning-timing').value;
    if (provisioning === 'days-before-start') provisioning += `:${$('days-before').value}`;
  }
  const body = {
    provisioning,
    deprovisioning: $('deprovisioning-on').checked ? $('deprovisioning-action').value : 'off',
    dialect: $('dialect').value,
    teams: $('teams-on').checked,
  };
  if ($('log-retention').value !== '') body.log_retention = Number($('log-retention').value);
  try {
    // PATCH: the page shows only some settings; the others (the brake's limit and window) stay.
    showSettings(await call('PATCH', `/api/tenants/${encodeURIComponent(tenant)}/settings`, body));
    say($('settings-result'), 'Saved.', true);
  } catch (e) {
    say($('settings-result'), e.message, false);
  }
}

function row(cells, cls) {
  const tr = document.createElement('tr');
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c ?? '';
    tr.append(td);
  }
  return tr;
}

async function previewSync() {
  const plan = $('sync-plan');
  plan.textContent = 'Planning…';
  try {
    const r = await call('POST', `/api/tenants/${encodeURIComponent(tenant)}/sync`, { dry_run: true });
    const summary = document.createElement('p');
    summary.id = 'sync-summary';
    summary.textContent = `Plan: ${r.created} to create, ${r.adopted} to adopt, ${r.updated} to update, ` +
      `${r.deprovisioned} to deprovision, ${r.managers_linked} manager links (${r.people} people, ${r.scim_users} Leapsome users).`;
    const table = document.createElement('table');
    table.id = 'sync-plan-table';
    const body = document.createElement('tbody');
    for (const c of r.changes.slice(0, 200)) body.append(row([c.kind, c.email, c.attributes.join(', ')]));
    table.append(body);
    plan.replaceChildren(summary, table);
    $('run-sync').disabled = false;
  } catch (e) {
    plan.textContent = e.message;
    plan.className = 'error';
  }
}

async function runSync() {
  $('run-sync').disabled = true;
  $('sync-progress').hidden = false;
  try {
    await call('POST', `/api/tenants/${encodeURIComponent(tenant)}/sync`, { dry_run: false });
  } catch (e) {
    say($('sync-status'), e.message, false);
    return;
  }
  const poll = async () => {
    const j = await call('GET', `/api/tenants/${encodeURIComponent(tenant)}/sync`);
    const total = j.total_writes || 0;
    $('sync-bar').max = Math.max(total, 1);
    $('sync-bar').value = Math.min(j.writes, total);
    const text = `${j.writes}/${total} writes, ${j.failed} failed`;
    if (j.state === 'running') {
      say($('sync-status'), `Running: ${text}`, true);
      setTimeout(poll, 500);
    } else if (j.state === 'done') {
      say($('sync-status'), `Done: ${text}`, true);
    } else {
      say($('sync-status'), `${j.state}: ${j.error || text}`, false);
    }
  };
  poll();
}

async function loadLogs(fresh) {
  if (fresh) logsBefore = null;
  const q = new URLSearchParams({ limit: '50' });
  if ($('logs-failures').checked) q.set('failures', '1');
  if ($('logs-person').value.trim()) q.set('person', $('logs-person').value.trim());
  if (logsBefore !== null) q.set('before', String(logsBefore));
  const page = await call('GET', `/api/tenants/${encodeURIComponent(tenant)}/logs?${q}`);
  const body = $('logs-table').querySelector('tbody');
  if (fresh) body.replaceChildren();
  for (const e of page.entries) {
    body.append(row([e.sequence, e.at, e.action, e.outcome, e.email, e.http_status, e.message], e.outcome === 'failure' ? 'failure' : ''));
  }
  $('logs-empty').hidden = body.children.length > 0;
  logsBefore = page.next_before;
  $('logs-older').hidden = logsBefore === null || logsBefore === undefined;
}

async function login(ev) {
  ev.preventDefault();
  try {
    const r = await call('POST', '/session', { token: $('token').value });
    csrf = r.csrf;
    $('token').value = '';
    $('login-error').textContent = '';
    await showApp();
  } catch (e) {
    $('login-error').textContent = e.message;
  }
}

async function logout() {
  await call('DELETE', '/session').catch(() => {});
  showLogin();
}

async function addTenant(ev) {
  ev.preventDefault();
  const id = $('new-tenant').value.trim();
  $('new-tenant').value = '';
  await openTenant(id);
}

document.addEventListener('DOMContentLoaded', async () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('new-tenant-form').addEventListener('submit', addTenant);
  $('connection-form').addEventListener('submit', saveConnection);
  $('settings-form').addEventListener('submit', saveSettings);
  $('notify-form').addEventListener('submit', saveNotify);
  $('preview-sync').addEventListener('click', previewSync);
  $('run-sync').addEventListener('click', runSync);
  $('logs-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadLogs(true); });
  $('logs-older').addEventListener('click', () => loadLogs(false));
  for (const b of document.querySelectorAll('[role=tab]')) b.addEventListener('click', () => selectTab(b.dataset.tab));
  try {
    csrf = (await call('GET', '/session')).csrf;
    await showApp();
  } catch {
    showLogin();
  }
});
