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

const path = (rest = '') => `/api/tenants/${encodeURIComponent(tenant)}${rest}`;

// Internal log action names, in words an HR admin uses.
const ACTIONS = {
  connect: 'Connected', configure: 'Configured', provision: 'Account created', adopt: 'Account adopted',
  update: 'Account updated', suspend: 'Account suspended', delete: 'Account deactivated',
  reactivate: 'Account reactivated', 'link-manager': 'Manager linked', 'manager-pending': 'Manager pending',
  skip: 'Skipped', event: 'Humaans event', sync: 'Sync all users', tick: 'Scheduled run',
  hold: 'Deprovision held', quarantine: 'Quarantine', retry: 'Retry requested',
  'connection-state': 'Connection state', 'team-create': 'Team created', 'team-adopt': 'Team adopted',
  'team-add': 'Team member added', 'team-remove': 'Team member removed',
};
const actionName = (a) => ACTIONS[a] || a;
const SERVICES = { humaans: 'Humaans', scim: 'Leapsome', leapsome: 'Leapsome' };
const serviceName = (s) => SERVICES[s] || s;

// A time in the admin's local time, the UTC original on hover (and for screen readers, datetime).
function when(iso) {
  const t = document.createElement('time');
  if (!iso) return t;
  const d = new Date(iso);
  t.dateTime = iso;
  t.textContent = Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  t.title = `UTC: ${Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('.000Z', 'Z')}`;
  return t;
}

function badge(text, kind) {
  const b = document.createElement('span');
  b.className = `badge ${kind}`;
  b.textContent = text;
  return b;
}

function button(text, cls, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  if (cls) b.className = cls;
  b.addEventListener('click', onClick);
  return b;
}

// A tenant's state for the badges and the overview: not connected (no status), needs attention
// (anything on the Needs attention screen), or connected.
function stateOf(status) {
  if (!status || status.connection === 'not-connected') return { text: 'Not connected', kind: 'neutral' };
  if (attentionCount(status) > 0) return { text: 'Needs attention', kind: 'warning' };
  return { text: 'Connected', kind: 'ok' };
}

function attentionCount(s) {
  return (s.unauthorized ? 1 : 0) + s.held.length + (s.quarantined_count || 0) + (s.dead_letter_count || 0);
}

async function statusOf(id) {
  try {
    return await call('GET', `/api/tenants/${encodeURIComponent(id)}/status`);
  } catch {
    return null;
  }
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
  const states = await Promise.all(tenants.map((t) => statusOf(t.id)));
  tenants.forEach((t, i) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    const name = document.createElement('span');
    name.textContent = t.id;
    const state = stateOf(states[i]);
    b.append(name, badge(state.text, state.kind));
    b.dataset.tenant = t.id;
    b.dataset.state = state.text;
    if (t.id === tenant) b.classList.add('current');
    b.addEventListener('click', () => openTenant(t.id));
    li.append(b);
    list.append(li);
  });
}

// Set when the admin picks a tab while a tenant is still opening: the opening then leaves it.
let tabPicked = false;

async function openTenant(id) {
  tenant = id;
  tabPicked = false;
  $('tenant-view').hidden = false;
  $('tenant-title').textContent = id;
  for (const b of document.querySelectorAll('#tenants button')) b.classList.toggle('current', b.dataset.tenant === id);
  $('connection-result').textContent = '';
  $('settings-result').textContent = '';
  $('notify-result').textContent = '';
  $('settings-preview').hidden = true;
  $('provision-output').hidden = true;
  $('provision-result').textContent = '';
  $('provision-person').value = '';
  $('sync-plan').replaceChildren();
  $('run-sync').disabled = true;
  $('sync-progress').hidden = true;
  for (const f of ['humaans-token', 'scim-token', 'webhook-secret', 'notify-secret']) $(f).value = '';
  $('attention-result').textContent = '';
  let connected = false;
  try {
    const c = await call('GET', `/api/tenants/${encodeURIComponent(id)}/connection`);
    $('humaans-url').value = c.humaans_url || '';
    $('scim-url').value = c.scim_url || '';
    connected = true;
    const s = await call('GET', `/api/tenants/${encodeURIComponent(id)}/settings`);
    showSettings(s);
  } catch (e) {
    if (!connected) {
      $('humaans-url').value = '';
      $('scim-url').value = '';
    }
  }
  // A tenant not yet connected opens on the form that connects it; the others on their overview.
  if (id === tenant && !tabPicked) selectTab(connected ? 'overview' : 'connection');
}

// Overview: the connection's state and why, the last and next run, the counts, today's activity.
async function loadOverview() {
  const id = tenant;
  $('ov-error').textContent = '';
  const status = await statusOf(id);
  if (id !== tenant) return;
  const state = stateOf(status);
  $('ov-badge').className = `badge ${state.kind}`;
  $('ov-badge').textContent = state.text;
  $('ov-connect').hidden = status !== null;
  $('ov-unauthorized').hidden = !status?.unauthorized;
  showAttentionBadge(status);
  if (!status) {
    $('ov-state').textContent = 'This tenant is not connected to Humaans and Leapsome yet.';
    for (const li of $('ov-counts').children) li.querySelector('.n').textContent = '–';
    $('ov-activity').querySelector('tbody').replaceChildren();
    $('ov-activity-summary').textContent = '';
    return;
  }
  if (status.unauthorized) {
    $('ov-state').textContent = 'Not working: a service refused the saved token.';
    $('ov-unauthorized-text').replaceChildren(...unauthorizedText(status));
  } else if (status.connection === 'ok') {
    $('ov-state').textContent = 'Connected: Humaans and Leapsome accept the saved tokens.';
  } else {
    $('ov-state').textContent = 'Not connected yet: save the connection to start.';
  }
  $('ov-next-due').replaceChildren(status.next_due ? when(status.next_due) : 'Nothing scheduled');
  const counts = {
    waiting: status.waiting, held: status.held.length, quarantined: status.quarantined_count,
    retrying: status.retrying, 'dead-letters': status.dead_letter_count,
  };
  for (const [k, n] of Object.entries(counts)) {
    const li = $(`count-${k}`);
    li.querySelector('.n').textContent = String(n ?? 0);
    li.classList.toggle('attention', ['held', 'quarantined', 'dead-letters'].includes(k) && n > 0);
  }
  try {
    // The last "Sync all users" run: its summary entry (no person) in the newest 500 entries.
    const recent = await call('GET', path(`/logs?limit=500`));
    const last = recent.entries.find((e) => e.action === 'sync' && !e.person_id);
    $('ov-last-sync').replaceChildren(...(last
      ? [when(last.at), ` — ${last.outcome === 'failure' ? 'failed' : 'done'}`]
      : ['No run in the recent log']));
    // The day's activity: counts since local midnight.
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    const day = await call('GET', path(`/logs/summary?since=${encodeURIComponent(midnight.toISOString())}`));
    if (id !== tenant) return;
    const body = $('ov-activity').querySelector('tbody');
    body.replaceChildren();
    for (const [action, outcomes] of Object.entries(day.by_action_and_outcome)) {
      const ok = outcomes.success || 0;
      const failed = outcomes.failure || 0;
      const other = Object.values(outcomes).reduce((a, b) => a + b, 0) - ok - failed;
      const tr = row([actionName(action), ok, failed, other], failed > 0 ? 'failure' : '');
      for (const td of [...tr.children].slice(1)) td.className = 'num';
      body.append(tr);
    }
    $('ov-activity-summary').textContent = day.total === 0
      ? 'Nothing has happened since midnight.'
      : `${day.total} log entries since midnight (your time): ${day.by_outcome.failure || 0} failed.`;
  } catch (e) {
    $('ov-error').textContent = e.message;
  }
}

function unauthorizedText(status) {
  const u = status.unauthorized;
  const parts = [`${serviceName(u.service)} refused the saved token${u.http_status ? ` (HTTP ${u.http_status})` : ''}`];
  if (status.unauthorized_since) parts.push(' since ', when(status.unauthorized_since));
  parts.push(`: ${u.message}. Nothing is sent until you reconnect with a new token.`);
  return parts;
}

function showAttentionBadge(status) {
  const n = status ? attentionCount(status) : 0;
  $('attention-count').hidden = n === 0;
  $('attention-count').textContent = String(n);
}

function reconnect() {
  selectTab('connection');
  $('humaans-token').focus();
}

// Needs attention: everything waiting on a person, each with its action.
async function loadAttention() {
  const id = tenant;
  $('attention-error').textContent = '';
  let status;
  let dead;
  try {
    status = await call('GET', path('/status'));
    dead = (await call('GET', path('/dead-letters'))).dead_letters;
  } catch (e) {
    if (id !== tenant) return;
    for (const s of ['att-unauthorized', 'att-held', 'att-quarantined', 'att-dead']) $(s).hidden = true;
    $('attention-empty').hidden = true;
    $('attention-error').textContent = `${e.message}: connect this tenant first.`;
    return;
  }
  if (id !== tenant) return;
  showAttentionBadge(status);
  $('att-unauthorized').hidden = !status.unauthorized;
  if (status.unauthorized) $('att-unauthorized-text').replaceChildren(...unauthorizedText(status));

  const held = $('held-table').querySelector('tbody');
  held.replaceChildren();
  for (const h of status.held) {
    const who = h.email || h.person_id;
    // The component's reason ends with the CLI's commands; the page has its own buttons.
    const why = (h.reason || '').split('; approve with')[0].replace(/^deprovision held: /, '') || 'over the deprovision limit';
    const tr = row([who, `Left in Humaans (${h.path === 'event' ? 'webhook' : 'sync'}): ${why}`, when(h.since)]);
    tr.dataset.person = h.person_id;
    const td = document.createElement('td');
    td.append(button('Approve', 'danger', () => approve(h.person_id, who)));
    tr.append(td);
    held.append(tr);
  }
  $('att-held').hidden = status.held.length === 0;

  const quarantined = $('quarantined-table').querySelector('tbody');
  quarantined.replaceChildren();
  for (const q of status.quarantined) {
    const tr = row([q.person_id, q.reason, when(q.since)]);
    tr.dataset.person = q.person_id;
    const td = document.createElement('td');
    td.append(button('Retry', '', () => retryPerson(q.person_id)));
    tr.append(td);
    quarantined.append(tr);
  }
  $('att-quarantined').hidden = status.quarantined.length === 0;

  const deadBody = $('dead-table').querySelector('tbody');
  deadBody.replaceChildren();
  for (const d of dead) {
    const tr = row([d.event_id, d.error, when(d.failed_at)]);
    tr.dataset.event = d.event_id;
    const td = document.createElement('td');
    td.append(button('Retry', '', () => retryEvent(d.event_id)));
    tr.append(td);
    deadBody.append(tr);
  }
  $('att-dead').hidden = dead.length === 0;
  for (const t of ['held-table', 'quarantined-table', 'dead-table']) labelCells($(t));
  $('attention-empty').hidden = !(status.held.length === 0 && status.quarantined.length === 0 && dead.length === 0 && !status.unauthorized);
}

// Each cell of a stacked table carries its column's name, shown above it at a phone's width.
function labelCells(table) {
  const names = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
  for (const tr of table.querySelectorAll('tbody tr')) {
    [...tr.children].forEach((td, i) => { td.dataset.label = i < names.length - 1 ? names[i] : ''; });
  }
}

// After an action: the screen, the counts and the tenant's badge read again.
async function afterAction() {
  await loadAttention();
  await loadTenants();
}

function deprovisionWord() {
  return $('deprovisioning-action').value === 'deactivate' ? 'deactivated (deleted)' : 'suspended';
}

async function approve(person, who) {
  const all = person === null;
  const question = all
    ? `Approve every held deprovision? Each account is ${deprovisionWord()} in Leapsome now.`
    : `Approve the deprovision of ${who}? Their Leapsome account is ${deprovisionWord()} now.`;
  if (!window.confirm(question)) {
    say($('attention-result'), 'Nothing was approved.', true);
    return;
  }
  try {
    const r = await call('POST', path(all ? '/held/approve-all' : `/held/${encodeURIComponent(person)}/approve`));
    const done = all ? `${r.approved} deprovision${r.approved === 1 ? '' : 's'} carried out` : `${who}: deprovision carried out`;
    const rest = [r.failed ? `${r.failed} failed` : '', r.remaining ? `${r.remaining} still held` : ''].filter(Boolean).join(', ');
    say($('attention-result'), `Approved: ${done}${rest ? ` (${rest})` : ''}.`, !r.failed);
  } catch (e) {
    say($('attention-result'), e.message, false);
  }
  await afterAction();
}

async function retryPerson(person) {
  try {
    await call('POST', path('/retry'), { person });
    say($('attention-result'), `Retried ${person}: quarantine lifted, the next scheduled run tries again.`, true);
  } catch (e) {
    say($('attention-result'), e.message, false);
  }
  await afterAction();
}

async function retryEvent(event) {
  try {
    await call('POST', path(`/dead-letters/${encodeURIComponent(event)}/retry`));
    say($('attention-result'), `Event ${event} queued again: it runs next.`, true);
  } catch (e) {
    say($('attention-result'), e.message, false);
  }
  await afterAction();
}

// "Days before the start date" only for that timing (it was shown for every one).
function showDaysBefore() {
  $('days-before-label').hidden = $('provisioning-timing').value !== 'days-before-start';
}

function showSettings(s) {
  $('provisioning-on').checked = s.provisioning !== 'off';
  const [timing, days] = s.provisioning.split(':');
  if (s.provisioning !== 'off') $('provisioning-timing').value = timing;
  if (days) $('days-before').value = days;
  showDaysBefore();
  $('deprovisioning-on').checked = s.deprovisioning !== 'off';
  if (s.deprovisioning !== 'off') $('deprovisioning-action').value = s.deprovisioning;
  $('dialect').value = s.dialect;
  $('teams-on').checked = s.teams === true;
  $('log-retention').value = s.log_retention ?? '';
  $('deprovision-limit').value = s.deprovision_limit ?? '';
  $('deprovision-window').value = s.deprovision_window ?? '';
  $('scope-rules').replaceChildren();
  for (const rule of s.scope || []) addRuleRow(rule);
  showNoRules();
  const keep = s.out_of_scope === 'keep';
  $('out-of-scope-keep').checked = keep;
  $('out-of-scope-deprovision').checked = !keep;
  const fields = s.extra_fields || [];
  for (const box of document.querySelectorAll('#extra-fields-fieldset [data-field]')) box.checked = fields.includes(box.dataset.field);
  $('custom-fields').replaceChildren();
  for (const f of fields.filter((w) => w.startsWith('custom:'))) {
    const [field, id] = splitCustom(f.slice('custom:'.length));
    addCustomRow(field, id);
  }
  clearSettingsErrors();
}

// `custom:FIELD=ID` as the API writes it: the id is after the last `=` (a field's name may hold one).
function splitCustom(rest) {
  const at = rest.lastIndexOf('=');
  return at < 0 ? [rest, ''] : [rest.slice(0, at), rest.slice(at + 1)];
}

// A row of the scope rules: the rule's text, Remove, and its own error line under it.
function addRuleRow(text = '') {
  const li = document.createElement('li');
  const row = document.createElement('div');
  row.className = 'row';
  const input = document.createElement('input');
  input.className = 'scope-rule';
  input.autocomplete = 'off';
  input.spellcheck = false;
  input.value = text;
  input.placeholder = 'department = Engineering';
  const error = document.createElement('p');
  error.className = 'error field-error';
  error.id = `rule-error-${++rowIds}`;
  input.setAttribute('aria-describedby', `scope-help ${error.id}`);
  const remove = button('Remove', '', () => { li.remove(); numberRules(); showNoRules(); $('add-rule').focus(); });
  row.append(input, remove);
  li.append(row, error);
  $('scope-rules').append(li);
  numberRules();
  showNoRules();
  return input;
}
let rowIds = 0;

function numberRules() {
  [...$('scope-rules').children].forEach((li, i) => {
    li.querySelector('input').setAttribute('aria-label', `Rule ${i + 1}`);
    li.querySelector('button').setAttribute('aria-label', `Remove rule ${i + 1}`);
  });
}

function showNoRules() {
  $('scope-none').hidden = $('scope-rules').children.length > 0;
}

// A row of the custom field mappings: the Humaans field's name, the Leapsome attribute's id, Remove.
function addCustomRow(field = '', id = '') {
  const li = document.createElement('li');
  const row = document.createElement('div');
  row.className = 'row';
  const n = ++rowIds;
  const input = (cls, label, value, placeholder) => {
    const l = document.createElement('label');
    l.textContent = label;
    const i = document.createElement('input');
    i.className = cls;
    i.autocomplete = 'off';
    i.value = value;
    i.placeholder = placeholder;
    i.id = `${cls}-${n}`;
    l.append(i);
    return l;
  };
  const name = input('custom-field', 'Humaans field', field, 'T-Shirt Size');
  const attr = input('custom-attribute', 'Leapsome attribute id', id, '6140868326541a4da586db0b');
  const remove = button('Remove', '', () => { li.remove(); $('add-custom').focus(); });
  remove.setAttribute('aria-label', 'Remove this custom field');
  row.append(name, attr, remove);
  li.append(row);
  $('custom-fields').append(li);
  return name.querySelector('input');
}

function clearSettingsErrors() {
  for (const e of document.querySelectorAll('#settings-form .field-error')) e.textContent = '';
  for (const i of document.querySelectorAll('#settings-form [aria-invalid]')) i.removeAttribute('aria-invalid');
}

// The form as a settings body (the API's PATCH words), and the rule rows in the order sent (an
// empty row is not a rule: it is left out, so settings.scope[N] is the Nth row sent).
function settingsBody() {
  let provisioning = 'off';
  if ($('provisioning-on').checked) {
    provisioning = $('provisioning-timing').value;
    if (provisioning === 'days-before-start') provisioning += `:${$('days-before').value}`;
  }
  const ruleInputs = [...document.querySelectorAll('#scope-rules .scope-rule')].filter((i) => i.value.trim() !== '');
  const extra = [...document.querySelectorAll('#extra-fields-fieldset [data-field]')].filter((b) => b.checked).map((b) => b.dataset.field);
  for (const li of $('custom-fields').children) {
    const field = li.querySelector('.custom-field').value.trim();
    const id = li.querySelector('.custom-attribute').value.trim();
    if (field !== '' || id !== '') extra.push(`custom:${field}=${id}`);
  }
  const body = {
    provisioning,
    deprovisioning: $('deprovisioning-on').checked ? $('deprovisioning-action').value : 'off',
    dialect: $('dialect').value,
    teams: $('teams-on').checked,
    scope: ruleInputs.map((i) => i.value.trim()),
    out_of_scope: $('out-of-scope-keep').checked ? 'keep' : 'deprovision',
    extra_fields: extra,
    // Empty: the default (null), as the hint says.
    deprovision_limit: $('deprovision-limit').value.trim() === '' ? null : $('deprovision-limit').value.trim(),
    deprovision_window: $('deprovision-window').value.trim() === '' ? null : $('deprovision-window').value.trim(),
  };
  if ($('log-retention').value !== '') body.log_retention = Number($('log-retention').value);
  return { body, ruleInputs };
}

// A refusal (422) shown next to the field it names; a scope rule's names its row and column, and
// the cursor is put at that column. Anything else goes under the Save button.
function showSettingsError(message, ruleInputs, general) {
  const rule = /settings\.scope\[(\d+)\]/.exec(message);
  const mark = (input, errorEl, text) => {
    errorEl.textContent = text;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  if (rule && ruleInputs[Number(rule[1])]) {
    const input = ruleInputs[Number(rule[1])];
    const column = /column (\d+)/.exec(message);
    // The component's words are the CLI's: on the page a second rule is a second row.
    const why = message.replace(/^.*?settings\.scope\[\d+\]:\s*/, '').replace(/^column \d+:\s*/, '')
      .replace('give --scope twice', 'add a second rule');
    const errorEl = input.closest('li').querySelector('.field-error');
    mark(input, errorEl, column ? `At column ${column[1]}: ${why}` : why);
    if (column) input.setSelectionRange(Number(column[1]) - 1, Number(column[1]) - 1);
    say(general, `Not saved: rule ${Number(rule[1]) + 1} does not read.`, false);
    return;
  }
  const fields = [
    [/`?deprovision_limit`?|deprovision-limit/, 'deprovision-limit'],
    [/`?deprovision_window`?|deprovision-window/, 'deprovision-window'],
  ];
  for (const [re, id] of fields) {
    if (re.test(message)) {
      mark($(id), $(`${id}-error`), message);
      say(general, 'Not saved: see the field marked above.', false);
      return;
    }
  }
  if (/extra_fields|extra-fields/.test(message)) {
    $('extra-fields-error').textContent = message;
    say(general, 'Not saved: see Extra fields above.', false);
    return;
  }
  say(general, message, false);
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
  if (name === 'overview') loadOverview();
  if (name === 'attention') loadAttention();
  if (name === 'configuration') loadNotify();
  if (name === 'provision') loadKnownPeople();
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
  clearSettingsErrors();
  const { body, ruleInputs } = settingsBody();
  try {
    // PATCH: only the keys sent change (a setting the page does not show stays as it is).
    showSettings(await call('PATCH', path('/settings'), body));
    say($('settings-result'), 'Saved.', true);
  } catch (e) {
    showSettingsError(e.message, ruleInputs, $('settings-result'));
  }
}

// The plan the form's settings would give, before Save: who enters and who leaves scope, and the
// next sync's counts. Nothing is saved.
async function previewSettings() {
  clearSettingsErrors();
  const { body, ruleInputs } = settingsBody();
  const out = $('settings-preview');
  say($('settings-result'), 'Previewing…', true);
  let plan;
  try {
    plan = await call('POST', path('/settings/preview'), body);
  } catch (e) {
    out.hidden = true;
    showSettingsError(e.message, ruleInputs, $('settings-result'));
    return;
  }
  $('settings-result').textContent = '';
  const entering = plan.entering_scope || [];
  const leaving = plan.leaving_scope || [];
  const keep = body.out_of_scope === 'keep';
  const action = body.deprovisioning === 'deactivate' ? 'deactivated (deleted)' : 'suspended';
  let leaveText = `${leaving.length} would leave scope`;
  if (leaving.length > 0) {
    leaveText += keep ? ' (their accounts are kept)' : body.deprovisioning === 'off' ? ' (deprovisioning is off: their accounts stay)'
      : ` (those with an account: ${action}, or held for your approval past the deprovision limit)`;
  }
  $('preview-summary').textContent = `${entering.length} would enter scope, ${leaveText}; ${plan.out_of_scope ?? 0} of ${plan.people ?? 0} people out of scope in all. Not saved yet.`;
  const counts = [
    ['created', plan.created, 'accounts to create'],
    ['reactivated', plan.reactivated, 'accounts to reactivate'],
    ['updated', plan.updated, 'accounts to update'],
    ['deprovisioned', plan.deprovisioned, `accounts to be ${action}`],
    ['held', plan.held, 'held for approval (over the limit)'],
  ];
  $('preview-counts').replaceChildren(...counts.map(([key, n, what]) => {
    const li = document.createElement('li');
    li.id = `preview-${key}`;
    if (key === 'held' && n > 0) li.className = 'attention';
    const num = document.createElement('span');
    num.className = 'n';
    num.textContent = String(n ?? 0);
    const w = document.createElement('span');
    w.className = 'what';
    w.textContent = what;
    li.append(num, w);
    return li;
  }));
  const people = (id, title, list) => {
    const box = $(id);
    if (list.length === 0) {
      box.replaceChildren();
      return;
    }
    const h = document.createElement('h4');
    h.textContent = `${title} (${list.length})`;
    const ul = document.createElement('ul');
    ul.className = 'people';
    for (const p of list.slice(0, 100)) {
      const li = document.createElement('li');
      li.textContent = p.email || p.person_id;
      li.dataset.person = p.person_id;
      ul.append(li);
    }
    if (list.length > 100) {
      const li = document.createElement('li');
      li.textContent = `and ${list.length - 100} more`;
      ul.append(li);
    }
    box.replaceChildren(h, ul);
  };
  people('preview-entering', 'Would enter scope', entering);
  people('preview-leaving', 'Would leave scope', leaving);
  out.hidden = false;
}

// Provision on demand. The person field takes a Humaans id, or an email the page has seen in the
// tenant's recent log (the newest 500 entries, one call when the tab opens): the API has no
// people search, and Humaans is read only by the component.
let knownPeople = new Map();

async function loadKnownPeople() {
  const id = tenant;
  try {
    const recent = await call('GET', path('/logs?limit=500'));
    if (id !== tenant) return;
    knownPeople = new Map();
    for (const e of recent.entries) if (e.email && e.person_id) knownPeople.set(e.email.toLowerCase(), e.person_id);
    $('known-people').replaceChildren(...[...knownPeople.keys()].sort().map((email) => {
      const o = document.createElement('option');
      o.value = email;
      return o;
    }));
  } catch {
    knownPeople = new Map();
    $('known-people').replaceChildren();
  }
}

const CHANGES = {
  create: 'Create the account', adopt: 'Adopt the account', update: 'Update the account', suspend: 'Suspend the account',
  delete: 'Deactivate (delete) the account', reactivate: 'Reactivate the account', 'link-manager': 'Link the manager',
};

const STEPS = {
  connection: 'Connection', settings: 'Settings', read: 'Read from Humaans', scope: 'Scope',
  quarantine: 'Quarantine', match: 'Match in Leapsome', brake: 'Deprovision limit', decision: 'Decision',
  write: 'Write to Leapsome', result: 'Result', teams: 'Teams',
};

// A step's outcome as ok, warning (it stops or holds the person, or nothing is written) or danger.
function outcomeKind(outcome) {
  if (/fail|not found|refused|error|^HTTP [45]/i.test(outcome)) return 'danger';
  if (/out of scope|quarantined|backing off|held|dry run|provisioning off/i.test(outcome)) return 'warning';
  return 'ok';
}

async function runProvision(ev) {
  ev.preventDefault();
  const given = $('provision-person').value.trim();
  const dryRun = $('provision-dry').checked;
  $('provision-output').hidden = true;
  let person = given;
  if (given.includes('@')) {
    person = knownPeople.get(given.toLowerCase());
    if (!person) {
      say($('provision-result'), `${given} is not in the recent log: enter their Humaans person id.`, false);
      return;
    }
  }
  say($('provision-result'), dryRun ? 'Running a dry run…' : 'Running…', true);
  $('run-provision').disabled = true;
  let r;
  try {
    r = await call('POST', path('/provision'), { person, dry_run: dryRun });
  } catch (e) {
    say($('provision-result'), e.message, false);
    return;
  } finally {
    $('run-provision').disabled = false;
  }
  const trace = $('provision-trace');
  trace.replaceChildren();
  let failed = 0;
  for (const s of r.steps) {
    const kind = outcomeKind(s.outcome);
    if (kind === 'danger') failed++;
    const li = document.createElement('li');
    li.className = `step-${kind}`;
    li.dataset.step = s.step;
    const name = document.createElement('span');
    name.className = 'step';
    name.textContent = STEPS[s.step] || s.step;
    const outcome = badge(s.outcome, kind);
    outcome.classList.add('outcome');
    const detail = document.createElement('span');
    detail.className = 'detail';
    detail.textContent = s.detail;
    li.append(name, outcome, detail);
    trace.append(li);
  }
  const changes = $('provision-changes').querySelector('tbody');
  changes.replaceChildren();
  for (const c of r.changes) {
    const what = c.error ? `Failed: ${c.error}` : (c.attributes || []).join(', ') || (c.kind === 'create' ? 'every mapped attribute' : '');
    const tr = row([CHANGES[c.kind] || c.kind, c.email, what], c.error ? 'failure' : '');
    tr.dataset.kind = c.kind;
    changes.append(tr);
  }
  labelCells($('provision-changes'));
  $('provision-no-changes').hidden = r.changes.length > 0;
  $('provision-changes').hidden = r.changes.length === 0;
  const who = given === person ? person : `${given} (${person})`;
  const n = r.changes.length;
  if (failed > 0) say($('provision-result'), `${who}: ${failed} step${failed === 1 ? '' : 's'} failed; see below.`, false);
  else if (dryRun) say($('provision-result'), `Dry run for ${who}: nothing was written. ${n} change${n === 1 ? '' : 's'} would be made.`, true);
  else say($('provision-result'), `Done for ${who}: ${n} change${n === 1 ? '' : 's'} made.`, true);
  $('provision-output').hidden = false;
}

// A table row; a cell is text or a node (a time, a badge).
function row(cells, cls) {
  const tr = document.createElement('tr');
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.append(c);
    else td.textContent = c ?? '';
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
    const head = document.createElement('thead');
    head.innerHTML = '<tr><th scope="col">Change</th><th scope="col">Email</th><th scope="col">Attributes</th></tr>';
    const body = document.createElement('tbody');
    for (const c of r.changes.slice(0, 200)) body.append(row([c.kind, c.email, c.attributes.join(', ')]));
    table.append(head, body);
    const wrap = document.createElement('div');
    wrap.className = 'table-wrap';
    wrap.append(table);
    plan.className = '';
    plan.replaceChildren(summary, wrap);
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

// An unconnected tenant has no log: the refusal is shown, not thrown.
async function loadLogs(fresh) {
  $('logs-error').textContent = '';
  try {
    await readLogs(fresh);
  } catch (e) {
    if (fresh) clearLogs();
    $('logs-empty').hidden = true;
    $('logs-older').hidden = true;
    $('logs-error').textContent = e.message;
    $('logs-table').dataset.loads = String(Number($('logs-table').dataset.loads || 0) + 1);
  }
}

function clearLogs() {
  for (const b of $('logs-table').querySelectorAll('tbody')) b.remove();
  logsGroup = null;
}

// The filters the API applies (as `logs.csv`): a person (id or work email), a period of local
// dates (the end date included), failures only.
function logsFilters() {
  const q = new URLSearchParams();
  if ($('logs-failures').checked || $('logs-outcome').value === 'failure') q.set('failures', '1');
  const person = $('logs-person').value.trim();
  if (person) q.set('person', person);
  const day = (v, plus) => { const d = new Date(`${v}T00:00:00`); d.setDate(d.getDate() + plus); return d.toISOString(); };
  if ($('logs-from').value) q.set('since', day($('logs-from').value, 0));
  if ($('logs-to').value) q.set('until', day($('logs-to').value, 1));
  return q;
}

// Action and outcome are picked here, over what the API answered.
function logsWanted(e) {
  const action = $('logs-action').value;
  const outcome = $('logs-outcome').value;
  return (!action || e.action === action) && (!outcome || e.outcome === outcome);
}

function triggerWords(t) {
  if (!t) return 'Unknown trigger';
  if (t.startsWith('webhook:')) return `Webhook ${t.slice('webhook:'.length)}`;
  return { webhook: 'Webhook', schedule: 'Schedule', cli: 'Command line', admin: 'Admin page' }[t] || t;
}

const OUTCOME_KINDS = { success: 'ok', failure: 'danger', skipped: 'neutral', pending: 'warning' };

function entryRow(e) {
  const tr = row([e.sequence, when(e.at), actionName(e.action), badge(e.outcome, OUTCOME_KINDS[e.outcome] || 'neutral'), e.email, e.http_status, e.message],
    e.outcome === 'failure' ? 'entry failure' : 'entry');
  tr.dataset.outcome = e.outcome;
  return tr;
}

// One run's consecutive entries: a summary row (trigger, time, counts by outcome) and its
// entries, hidden until the summary's button expands them.
function runGroup(e) {
  const body = document.createElement('tbody');
  body.className = 'run';
  body.dataset.run = e.run_id;
  const summary = document.createElement('tr');
  summary.className = 'run-summary';
  const cell = document.createElement('th');
  cell.scope = 'rowgroup';
  cell.colSpan = 7;
  const toggle = document.createElement('button');
  toggle.type = 'button';
  toggle.className = 'run-toggle';
  toggle.setAttribute('aria-expanded', 'false');
  const title = document.createElement('span');
  title.className = 'run-title';
  const counts = document.createElement('span');
  counts.className = 'run-counts';
  toggle.append(title, ' ', when(e.at), ' ', counts);
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    for (const tr of body.querySelectorAll('tr.entry')) tr.hidden = !open;
  });
  cell.append(toggle);
  summary.append(cell);
  body.append(summary);
  return { body, run: e.run_id, trigger: e.trigger, title, counts, toggle };
}

function countRun(g) {
  const n = {};
  for (const tr of g.body.querySelectorAll('tr.entry')) n[tr.dataset.outcome] = (n[tr.dataset.outcome] || 0) + 1;
  const total = Object.values(n).reduce((a, b) => a + b, 0);
  g.title.textContent = `${triggerWords(g.trigger)}: ${total} entr${total === 1 ? 'y' : 'ies'}`;
  g.counts.replaceChildren(...Object.entries(n).map(([o, k]) => badge(`${k} ${o}`, OUTCOME_KINDS[o] || 'neutral')));
}

let logsGroup = null;

async function readLogs(fresh) {
  if (fresh) logsBefore = null;
  const q = logsFilters();
  // Filtered by email or period, the API answers one page of at most 500, without paging; an
  // action or an outcome is picked here, so out of pages of 500.
  const wide = q.has('since') || q.has('until') || (q.get('person') || '').includes('@') || $('logs-action').value || $('logs-outcome').value;
  q.set('limit', wide ? '500' : '50');
  if (logsBefore !== null) q.set('before', String(logsBefore));
  const page = await call('GET', `${path('/logs')}?${q}`);
  const table = $('logs-table');
  if (fresh) clearLogs();
  const touched = new Set();
  for (const e of page.entries.filter(logsWanted)) {
    // Consecutive entries of one run share its group (across pages too); others stand alone.
    if (!e.run_id) {
      const body = document.createElement('tbody');
      body.append(entryRow(e));
      table.append(body);
      logsGroup = null;
      continue;
    }
    if (!logsGroup || logsGroup.run !== e.run_id) {
      logsGroup = runGroup(e);
      table.append(logsGroup.body);
    }
    const tr = entryRow(e);
    tr.hidden = logsGroup.toggle.getAttribute('aria-expanded') !== 'true';
    logsGroup.body.append(tr);
    touched.add(logsGroup);
  }
  for (const g of touched) countRun(g);
  // Every column of an entry is named at a phone's width (the message too, unlike labelCells).
  const names = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
  for (const tr of table.querySelectorAll('tr.entry')) [...tr.children].forEach((td, i) => { td.dataset.label = names[i]; });
  $('logs-empty').hidden = table.querySelector('tr.entry') !== null;
  // How many answers are shown: a test waits for the next one.
  table.dataset.loads = String(Number(table.dataset.loads || 0) + 1);
  logsBefore = page.next_before;
  $('logs-older').hidden = logsBefore === null || logsBefore === undefined;
}

// The CSV with the same filters: fetched with the session cookie (a plain link would carry it
// too, but a refusal would then replace the page), offered as a file.
async function downloadLogs() {
  $('logs-error').textContent = '';
  try {
    const res = await fetch(`${path('/logs.csv')}?${logsFilters()}`, { credentials: 'same-origin' });
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error || `HTTP ${res.status}`);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `${tenant}-log.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    $('logs-error').textContent = `Download failed: ${e.message}`;
  }
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
  $('preview-settings').addEventListener('click', previewSettings);
  $('add-rule').addEventListener('click', () => addRuleRow().focus());
  $('add-custom').addEventListener('click', () => addCustomRow().focus());
  // A changed form makes the last preview stale: it is hidden rather than shown as this form's.
  $('settings-form').addEventListener('input', () => { $('settings-preview').hidden = true; });
  $('provision-form').addEventListener('submit', runProvision);
  $('provisioning-timing').addEventListener('change', showDaysBefore);
  $('notify-form').addEventListener('submit', saveNotify);
  $('preview-sync').addEventListener('click', previewSync);
  $('run-sync').addEventListener('click', runSync);
  $('logs-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadLogs(true); });
  $('logs-older').addEventListener('click', () => loadLogs(false));
  $('logs-csv').addEventListener('click', downloadLogs);
  $('logs-action').append(...Object.entries(ACTIONS).map(([v, t]) => new Option(t, v)));
  $('ov-reconnect').addEventListener('click', reconnect);
  $('ov-connect').addEventListener('click', reconnect);
  $('att-reconnect').addEventListener('click', reconnect);
  $('approve-all').addEventListener('click', () => approve(null, 'everyone held'));
  for (const b of document.querySelectorAll('[role=tab]')) b.addEventListener('click', () => { tabPicked = true; selectTab(b.dataset.tab); });
  try {
    csrf = (await call('GET', '/session')).csrf;
    await showApp();
  } catch {
    showLogin();
  }
});
