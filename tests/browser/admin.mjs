// Drives serve's admin page in headless Chromium, as an operator would:
//
//   node admin.mjs CONFIG.json
//
// CONFIG: {url, adminToken, humaansUrl, scimUrl, humaansToken, scimToken, personId, personEmail,
// shots (directory for the steps' screenshots), docs (directory for the screens' screenshots: the
// test passes target/screenshots, or docs/screenshots under SCREENSHOTS=docs), chromium
// (executable), phase}. Phase "setup" (the default) logs in, connects, configures, syncs and reads
// the logs; phase "attention" runs after the test has made held deprovisions and a quarantined
// person (config: held, quarantined), and drives the Overview and Needs attention screens; phase
// "unauthorized" runs after Leapsome refused the token, and reconnects from the Overview; phase
// "configure" drives scope rules, extra fields and Provision on demand (config: personDepartment,
// newHire, newHireEmail, refusedHire).
// Prints one line per step; exits 0 when every check held, 1 with the failed check otherwise.
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// axe-core's browser build, evaluated in the page (the page's CSP allows no injected script tag).
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const config = JSON.parse(await readFile(process.argv[2], 'utf8'));
const step = (name, detail = '') => console.log(`step: ${name}${detail ? ` (${detail})` : ''}`);
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

await mkdir(config.shots, { recursive: true });
await mkdir(config.docs, { recursive: true });
const profile = await mkdtemp(join(tmpdir(), 'hh-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: config.chromium,
  headless: true,
  // Without the background-networking flags Chromium stalls on its own update and sync traffic.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
const page = context.pages()[0] ?? (await context.newPage());
const externals = [];
page.on('request', (r) => { if (!r.url().startsWith(config.url)) externals.push(r.url()); });
const shot = (name) => page.screenshot({ path: join(config.shots, `${name}.png`), fullPage: true });
const text = (selector) => page.locator(selector).innerText();
// Uncaught errors in the page (the Logs tab of an unconnected tenant threw one).
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));

// axe-core's serious and critical findings on the page as it is now.
async function axe(where) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const found = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] }))
    .violations.filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`));
  check(found.length === 0, `axe finds no serious or critical violations on ${where}: ${found.join('; ')}`);
}

// A screen checked at 1280 px and at a phone's 390 px (axe at both, no sideways scroll at 390),
// with its screenshots written for the README.
async function screen(name) {
  await axe(`${name} at 1280 px`);
  await page.screenshot({ path: join(config.docs, `${name}.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await axe(`${name} at 390 px`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 390, `no sideways scroll on ${name} at 390 px (page width ${wide})`);
  await page.screenshot({ path: join(config.docs, `${name}-390px.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  step(`${name} screen`, 'axe: none serious or critical at 1280 and 390 px');
}

async function login() {
  await page.goto(config.url);
  await page.locator('#login-view').waitFor({ state: 'visible' });
  await page.fill('#token', config.adminToken);
  await page.click('#login');
  await page.locator('#app-view').waitFor({ state: 'visible' });
}

// The Overview and Needs attention screens, on a tenant with `config.held` held deprovisions, one
// quarantined person (`config.quarantined`) and one dead letter (`config.deadLetter`).
async function attention() {
  await login();
  const acme = page.locator('#tenants button', { hasText: 'acme' });
  await acme.locator('.badge', { hasText: 'Needs attention' }).waitFor();
  await acme.click();
  await page.locator('#panel-overview').waitFor({ state: 'visible' });
  await page.locator('#count-held .n', { hasText: new RegExp(`^${config.held}$`) }).waitFor();
  check((await text('#count-quarantined .n')) === '1', `one quarantined: ${await text('#count-quarantined .n')}`);
  check((await text('#ov-badge')) === 'Needs attention', `the overview's badge: ${await text('#ov-badge')}`);
  check((await text('#count-dead-letters .n')) === '1', `one dead letter: ${await text('#count-dead-letters .n')}`);
  check((await text('#attention-count')) === String(config.held + 2), `the tab's count: ${await text('#attention-count')}`);
  await page.locator('#ov-activity tbody tr').first().waitFor();
  const activity = await page.locator('#ov-activity tbody tr td:nth-child(1)').allInnerTexts();
  check(activity.includes('Account created') && activity.includes('Deprovision held'), `today's activity in words: ${activity}`);
  const lastSync = await text('#ov-last-sync');
  check(/done/.test(lastSync), `the last sync is shown: ${lastSync}`);
  const lastSyncUtc = await page.locator('#ov-last-sync time').getAttribute('title');
  check(/^UTC: \d{4}-\d\d-\d\dT/.test(lastSyncUtc), `UTC on hover: ${lastSyncUtc}`);
  step('overview', `held ${config.held}, quarantined 1, last sync ${lastSync}`);
  await screen('overview');

  await page.click('#tab-attention');
  const held = page.locator('#held-table tbody tr');
  await held.first().waitFor();
  check((await held.count()) === config.held, `${config.held} held listed (got ${await held.count()})`);
  const quarantined = page.locator('#quarantined-table tbody tr');
  check((await quarantined.count()) === 1, 'the quarantined person listed');
  check((await quarantined.first().getAttribute('data-person')) === config.quarantined, 'the quarantined person is the one refused');
  const dead = page.locator('#dead-table tbody tr');
  check((await dead.count()) === 1 && (await dead.first().getAttribute('data-event')) === config.deadLetter, 'the dead letter listed');
  check((await dead.first().innerText()).includes('temporarily unreadable'), `the dead letter's error: ${await dead.first().innerText()}`);
  check(await page.locator('#attention-empty').isHidden(), 'not empty');
  await screen('needs-attention');

  // Approve one: the confirmation names the person; accepted, the deprovision is done and gone.
  const first = held.first();
  const person = await first.getAttribute('data-person');
  const who = await first.locator('td').first().innerText();
  let asked = '';
  page.once('dialog', (d) => { asked = d.message(); d.accept(); });
  await first.locator('button', { hasText: 'Approve' }).click();
  await page.locator('#attention-result.ok', { hasText: 'Approved' }).waitFor();
  check(asked.includes(who) && asked.includes('suspended'), `the confirmation names who and what: ${asked}`);
  await page.waitForFunction((n) => document.querySelectorAll('#held-table tbody tr').length === n, config.held - 1);
  check((await page.locator(`#held-table tbody tr[data-person="${person}"]`).count()) === 0, 'the approved person is gone from the list');
  step('approve one', `${await text('#attention-result')}`);

  // Approve all, dismissed: nothing happens.
  page.once('dialog', (d) => d.dismiss());
  await page.click('#approve-all');
  await page.locator('#attention-result', { hasText: 'Nothing was approved' }).waitFor();
  check((await held.count()) === config.held - 1, 'a dismissed confirmation approves nothing');
  step('approve all dismissed');

  // Retry the quarantined person: the quarantine is lifted and they leave the list.
  await quarantined.first().locator('button', { hasText: 'Retry' }).click();
  await page.locator('#attention-result.ok', { hasText: 'Retried' }).waitFor();
  await page.locator('#att-quarantined').waitFor({ state: 'hidden' });
  step('retry', await text('#attention-result'));

  // Retry the dead letter: queued again, gone from the list (the test checks it was applied).
  await dead.first().locator('button', { hasText: 'Retry' }).click();
  await page.locator('#attention-result.ok', { hasText: `Event ${config.deadLetter} queued again` }).waitFor();
  await page.locator('#att-dead').waitFor({ state: 'hidden' });
  step('retry dead letter', await text('#attention-result'));

  // Approve all, accepted: nothing is left, and the screen says so.
  page.once('dialog', (d) => d.accept());
  await page.click('#approve-all');
  await page.locator('#attention-result.ok', { hasText: `${config.held - 1} deprovisions carried out` }).waitFor();
  await page.locator('#attention-empty', { hasText: 'Nothing needs you' }).waitFor();
  check(await page.locator('#attention-count').isHidden(), 'no count on the tab');
  await acme.locator('.badge', { hasText: 'Connected' }).waitFor();
  step('approve all', await text('#attention-result'));
  await screen('needs-attention-empty');
  await page.click('#tab-overview');
  await page.locator('#ov-badge', { hasText: 'Connected' }).waitFor();
  check((await text('#count-held .n')) === '0', 'nothing held on the overview');
  step('overview after', 'Connected');
}

// The unauthorized state (Leapsome refused the token twice): named on the Overview and on Needs
// attention, and Reconnect opens the connection form, which connects again.
async function unauthorized() {
  await login();
  const acme = page.locator('#tenants button', { hasText: 'acme' });
  await acme.locator('.badge', { hasText: 'Needs attention' }).waitFor();
  await acme.click();
  await page.locator('#ov-unauthorized').waitFor({ state: 'visible' });
  const why = await text('#ov-unauthorized-text');
  check(/^Leapsome refused the saved token \(HTTP 401\) since .+: /.test(why), `the service and since when: ${why}`);
  check(/^UTC: /.test(await page.locator('#ov-unauthorized-text time').getAttribute('title')), 'since when, UTC on hover');
  step('unauthorized overview', why);
  await screen('overview-unauthorized');
  await page.click('#tab-attention');
  await page.locator('#att-unauthorized').waitFor({ state: 'visible' });
  check(await page.locator('#attention-empty').isHidden(), 'the refusal needs you');
  await page.click('#att-reconnect');
  await page.locator('#panel-connection').waitFor({ state: 'visible' });
  check(await page.evaluate(() => document.activeElement?.id === 'humaans-token'), 'Reconnect puts the cursor in the token field');
  await page.fill('#humaans-token', config.humaansToken);
  await page.fill('#scim-token', config.scimToken);
  await page.click('#save-connection');
  await page.locator('#connection-result.ok', { hasText: 'Connected' }).waitFor();
  await page.click('#tab-overview');
  await page.locator('#ov-badge', { hasText: 'Connected' }).waitFor();
  check(await page.locator('#ov-unauthorized').isHidden(), 'the refusal is gone once reconnected');
  step('reconnected');
}

// Opens acme's Configuration tab after a login (or a reload), the form filled from the settings.
async function openConfiguration() {
  await page.locator('#app-view').waitFor({ state: 'visible' });
  await page.locator('#tenants button', { hasText: 'acme' }).click();
  // The tenant opens on its Overview once its settings are read (and filled in the form): a tab
  // clicked before that would be switched back to the Overview.
  await page.locator('#panel-overview').waitFor({ state: 'visible' });
  await page.click('#tab-configuration');
  await page.locator('#panel-configuration').waitFor({ state: 'visible' });
}

// Leapsome's accounts with this userName, asked of the mock's SCIM API by this script (not the
// page): what a provision on demand did or did not write.
async function accountsNamed(email) {
  const q = new URLSearchParams({ filter: `userName eq "${email}"` });
  const r = await fetch(`${config.scimUrl}/Users?${q}`, { headers: { Authorization: `Bearer ${config.scimToken}` } });
  check(r.ok, `Leapsome's Users answers (${r.status})`);
  return (await r.json()).totalResults;
}

// Configuration (scope rules previewed then saved, a malformed rule, extra fields) and Provision
// on demand (a dry run of a new hire `config.newHire`, then the real run), on the connected acme.
async function configure() {
  await login();
  await openConfiguration();

  // A scope rule that leaves the person's department out: Preview names them as leaving, before
  // anything is saved.
  check(await page.locator('#scope-none').isVisible(), 'no rules at first: everyone is in scope');
  check(await page.isChecked('#out-of-scope-deprovision'), 'leaving scope deprovisions by default');
  const rule = `department != "${config.personDepartment}"`;
  await page.click('#add-rule');
  check(await page.evaluate(() => document.activeElement?.classList.contains('scope-rule')), 'Add a rule puts the cursor in the new rule');
  await page.keyboard.type(rule);
  await page.click('#preview-settings');
  await page.locator('#settings-preview').waitFor({ state: 'visible' });
  const leaving = await page.locator('#preview-leaving li').allInnerTexts();
  check(leaving.includes(config.personEmail), `Preview lists ${config.personEmail} as leaving scope: ${leaving}`);
  const summary = await text('#preview-summary');
  check(summary.includes(`${leaving.length} would leave scope`) && summary.includes('Not saved yet'), `the preview's counts: ${summary}`);
  check((await text('#preview-leaving h4')) === `Would leave scope (${leaving.length})`, 'the leaving count in the heading');
  for (const k of ['created', 'deprovisioned', 'held']) check(/^\d+$/.test(await text(`#preview-${k} .n`)), `the plan's ${k} count`);
  const unsaved = await page.evaluate(async () => (await (await fetch('/api/tenants/acme/settings')).json()).scope);
  check(Array.isArray(unsaved) && unsaved.length === 0, `Preview saved nothing: ${JSON.stringify(unsaved)}`);
  step('scope preview', `${leaving.length} leaving; ${summary}`);
  await screen('configuration-preview');

  // A malformed rule: refused, the error under that rule with its column, nothing saved.
  await page.click('#add-rule');
  await page.keyboard.type('department = Customer Success');
  await page.click('#save-settings');
  const second = page.locator('#scope-rules li').nth(1);
  await second.locator('.field-error', { hasText: 'column 23' }).waitFor();
  check((await second.locator('input').getAttribute('aria-invalid')) === 'true', 'the malformed rule is marked');
  check(await page.locator('#scope-rules li').first().locator('.field-error').isHidden(), 'the good rule carries no error');
  check((await text('#settings-result')).includes('rule 2'), `the refusal names the rule: ${await text('#settings-result')}`);
  const caret = await second.locator('input').evaluate((i) => [document.activeElement === i, i.selectionStart]);
  check(caret[0] && caret[1] === 22, `the cursor at column 23 of the rule: ${caret}`);
  step('malformed rule', await second.locator('.field-error').innerText());
  await second.locator('button', { hasText: 'Remove' }).click();

  // Saved with "Keep their account", read back after a reload.
  await page.check('#out-of-scope-keep');
  await page.click('#save-settings');
  await page.locator('#settings-result.ok', { hasText: 'Saved' }).waitFor();
  await page.reload();
  await openConfiguration();
  await page.locator('#scope-rules .scope-rule').first().waitFor();
  const rules = await page.locator('#scope-rules .scope-rule').evaluateAll((l) => l.map((i) => i.value));
  check(rules.length === 1 && rules[0] === rule, `the rule, read back: ${rules}`);
  check(await page.isChecked('#out-of-scope-keep'), 'Keep, read back');
  step('scope saved', rule);

  // Extra fields: a custom id that is not one is refused under Extra fields; then saved, read back.
  await page.check('#field-start-date');
  await page.check('#field-location');
  await page.check('#field-gender');
  await page.click('#add-custom');
  await page.keyboard.type('T-Shirt Size');
  await page.locator('#custom-fields .custom-attribute').fill('not-an-id');
  await page.click('#save-settings');
  await page.locator('#extra-fields-error', { hasText: '24 hex' }).waitFor();
  step('custom field refused', await text('#extra-fields-error'));
  await page.locator('#custom-fields .custom-attribute').fill('6140868326541a4da586db0b');
  await page.click('#save-settings');
  await page.locator('#settings-result.ok', { hasText: 'Saved' }).waitFor();
  check((await text('#extra-fields-error')) === '', 'the error is gone once saved');
  await page.reload();
  await openConfiguration();
  await page.locator('#custom-fields .custom-field').first().waitFor();
  const ticked = await page.locator('#extra-fields-fieldset [data-field]').evaluateAll((l) => l.filter((b) => b.checked).map((b) => b.dataset.field));
  check(ticked.join(',') === 'start-date,location,gender', `the extra fields, read back: ${ticked}`);
  check((await page.inputValue('#custom-fields .custom-field')) === 'T-Shirt Size', 'the custom field, read back');
  check((await page.inputValue('#custom-fields .custom-attribute')) === '6140868326541a4da586db0b', 'its attribute id, read back');
  step('extra fields saved', `${ticked}, custom:T-Shirt Size`);
  await screen('configuration');

  // Everyone in scope again (the new hire below is in the person's department): Remove, Save.
  await page.locator('#scope-rules li button', { hasText: 'Remove' }).click();
  check(await page.locator('#scope-none').isVisible(), 'no rules left');
  await page.click('#preview-settings');
  await page.locator('#preview-entering h4').waitFor();
  const entering = await page.locator('#preview-entering li').allInnerTexts();
  check(entering.includes(config.personEmail) && entering.length === leaving.length, `Preview lists the same people entering scope again: ${entering}`);
  check(await page.locator('#preview-leaving li').count() === 0, 'nobody leaves');
  step('scope preview back', `${entering.length} entering`);
  await page.click('#save-settings');
  await page.locator('#settings-result.ok', { hasText: 'Saved' }).waitFor();
  const after = await page.evaluate(async () => (await (await fetch('/api/tenants/acme/settings')).json()).scope);
  check(Array.isArray(after) && after.length === 0, `the rule removed and saved: ${JSON.stringify(after)}`);
  step('scope cleared');

  // Provision on demand: someone in the recent log picked by email (a dry run: matched by link).
  await page.click('#tab-provision');
  check(await page.isChecked('#provision-dry'), 'Dry run is on by default');
  await page.locator(`#known-people option[value="${config.personEmail.toLowerCase()}"]`).waitFor({ state: 'attached' });
  await page.fill('#provision-person', config.personEmail);
  await page.click('#run-provision');
  await page.locator('#provision-result.ok', { hasText: 'Dry run' }).waitFor();
  check((await text('#provision-trace li[data-step="match"] .badge')) === 'by link', 'the person picked by email is matched by link');
  check((await text('#provision-result')).includes(config.personId), 'the email resolved to the id');
  step('picked by email', await text('#provision-result'));

  // A new hire, dry run: every step shown, nothing written.
  check(await accountsNamed(config.newHireEmail) === 0, 'no account before');
  await page.fill('#provision-person', config.newHire);
  await page.click('#run-provision');
  await page.locator('#provision-result.ok', { hasText: 'nothing was written' }).waitFor();
  const steps = await page.locator('#provision-trace li').evaluateAll((l) => l.map((li) => `${li.dataset.step}=${li.querySelector('.badge').textContent}`));
  for (const s of ['read=found', 'scope=in scope', 'match=none', 'decision=create', 'write=dry run']) check(steps.includes(s), `the dry run's trace has ${s}: ${steps}`);
  check(await page.locator('#provision-trace li.step-danger').count() === 0, 'no step failed');
  check((await page.locator('#provision-changes tbody tr[data-kind="create"] td').first().innerText()) === 'Create the account', 'the planned change listed, in words');
  check(await accountsNamed(config.newHireEmail) === 0, 'the dry run wrote nothing: no account in Leapsome');
  step('dry run', steps.join(', '));
  await screen('provision-dry-run');

  // The real run: the account is made, each write with its HTTP status.
  await page.uncheck('#provision-dry');
  await page.click('#run-provision');
  await page.locator('#provision-result.ok', { hasText: 'Done' }).waitFor();
  const writes = await page.locator('#provision-trace li[data-step="write"] .badge').allInnerTexts();
  check(writes.includes('HTTP 201'), `the create's write, HTTP 201: ${writes}`);
  check(await page.locator('#provision-trace li[data-step="write"].step-ok').count() === writes.length, 'writes shown as succeeded');
  check(await accountsNamed(config.newHireEmail) === 1, 'the real run made the account');
  step('provisioned', writes.join(', '));
  await screen('provision-on-demand');

  // A write Leapsome refuses reads as a failure: the step in red, the result says so.
  await page.fill('#provision-person', config.refusedHire);
  await page.click('#run-provision');
  await page.locator('#provision-result.error', { hasText: 'failed' }).waitFor();
  const failedSteps = await page.locator('#provision-trace li.step-danger').evaluateAll((l) => l.map((li) => `${li.dataset.step}=${li.querySelector('.badge').textContent}`));
  check(failedSteps.some((s) => s.startsWith('write=')), `the refused write is a failed step: ${failedSteps}`);
  check(await page.locator('#provision-trace li[data-step="decision"].step-ok').count() === 1, 'the steps before it did not fail');
  step('refused', `${await text('#provision-result')} ${failedSteps.join(', ')}`);
  await screen('provision-failed');

  // A failure reads as one: an unknown id.
  await page.fill('#provision-person', 'no-such-person-0000');
  await page.click('#run-provision');
  await page.locator('#provision-result.error').waitFor();
  step('unknown person', await text('#provision-result'));
}

async function setup() {
  // 1. Login: a wrong token is refused, the right one opens the app.
  await page.goto(config.url);
  await page.locator('#login-view').waitFor({ state: 'visible' });
  check(await page.locator('#tenant-nav').isHidden(), 'the tenant list is not shown while logged out');
  await page.fill('#token', 'not-the-admin-token');
  await page.click('#login');
  await page.locator('#login-error', { hasText: 'wrong admin token' }).waitFor();
  await shot('01-login-refused');
  await page.fill('#token', config.adminToken);
  await page.click('#login');
  await page.locator('#app-view').waitFor({ state: 'visible' });
  // The page may show before the browser has stored the cookie from the login's answer: poll.
  let cookie;
  for (let i = 0; i < 50 && !cookie; i++) {
    cookie = (await context.cookies()).find((c) => c.name === 'hh_session');
    if (!cookie) await page.waitForTimeout(100);
  }
  check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', `session cookie HttpOnly+Strict: ${JSON.stringify(cookie)}`);
  check(!(await page.evaluate(() => document.cookie)).includes('hh_session'), 'scripts cannot read the session cookie');
  step('login', 'cookie HttpOnly, SameSite=Strict');
  // The tenant id field's pattern works (an invalid one is ignored by the browser: anything passes).
  const validity = await page.$eval('#new-tenant', (el) => {
    const check = (v) => { el.value = v; return el.checkValidity(); };
    const result = [check('bad id!'), check('acme-2_b')];
    el.value = '';
    return result;
  });
  check(validity[0] === false && validity[1] === true, `the tenant id pattern refuses 'bad id!' and takes 'acme-2_b': ${validity}`);
  step('tenant id pattern');

  // 2. CSRF: the cookie alone does not change anything.
  const forged = await page.evaluate(async () => {
    const r = await fetch('/api/tenants/acme/settings', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"provisioning":"off"}' });
    return r.status;
  });
  check(forged === 403, `a PUT without the CSRF header is refused (got ${forged})`);
  step('csrf', 'PUT without X-CSRF-Token: 403');

  // An unconnected tenant: its Logs tab says why there is nothing, without an uncaught error.
  await page.fill('#new-tenant', 'nowhere');
  await page.click('#add-tenant');
  await page.locator('#tenant-title', { hasText: 'nowhere' }).waitFor();
  check(await page.locator('#panel-connection').isVisible(), 'an unconnected tenant opens on its connection form');
  await page.click('#tab-logs');
  await page.locator('#logs-error', { hasText: /\S/ }).waitFor();
  check(pageErrors.length === 0, `no uncaught error on an unconnected tenant's logs: ${pageErrors}`);
  step('unconnected logs', await text('#logs-error'));

  // 3. Connect: a wrong token shows the service's refusal; the right ones connect.
  await page.fill('#new-tenant', 'acme');
  await page.click('#add-tenant');
  await page.locator('#tenant-title', { hasText: 'acme' }).waitFor();
  await page.fill('#humaans-url', config.humaansUrl);
  await page.fill('#scim-url', config.scimUrl);
  await page.fill('#humaans-token', 'wrong-humaans-token');
  await page.fill('#scim-token', config.scimToken);
  await page.fill('#webhook-secret', 'whsec-browser-0001');
  await page.fill('#scim-rate-limit', '0');
  await page.click('#save-connection');
  await page.locator('#connection-result.error').waitFor();
  const refusal = await text('#connection-result');
  check(/Humaans refused the token/.test(refusal), `the refusal names Humaans: ${refusal}`);
  await shot('02-connect-refused');
  step('connect refused', refusal);
  await page.fill('#humaans-token', config.humaansToken);
  await page.fill('#scim-token', config.scimToken);
  await page.click('#save-connection');
  await page.locator('#connection-result.ok', { hasText: 'Connected' }).waitFor();
  check((await page.inputValue('#humaans-token')) === '', 'the token field is cleared after saving');
  await page.locator('#tenants button', { hasText: 'acme' }).waitFor();
  await shot('03-connected');
  step('connected', await text('#connection-result'));

  // 4. Configure.
  await page.click('#tab-configuration');
  await page.check('#provisioning-on');
  await page.selectOption('#provisioning-timing', 'immediately');
  await page.check('#deprovisioning-on');
  await page.selectOption('#deprovisioning-action', 'suspend');
  await page.selectOption('#dialect', 'leapsome');
  await page.check('#teams-on');
  await page.click('#save-settings');
  await page.locator('#settings-result.ok', { hasText: 'Saved' }).waitFor();
  check(await page.isChecked('#teams-on'), 'teams are on after the save (shown from what the component holds)');
  await shot('04-configured');
  step('configured');

  // 5. Sync all users: the plan first, then the live run to the end.
  await page.click('#tab-sync');
  check(await page.locator('#run-sync').isDisabled(), 'the live run waits for a preview');
  await page.click('#preview-sync');
  await page.locator('#sync-summary').waitFor();
  const plan = await text('#sync-summary');
  const toCreate = Number(/(\d+) to create/.exec(plan)?.[1]);
  check(toCreate > 0, `the plan creates accounts: ${plan}`);
  check((await page.locator('#sync-plan-table tr').count()) > 0, 'the plan lists changes');
  await shot('05-plan');
  step('plan', plan);
  await page.click('#run-sync');
  await page.locator('#sync-status', { hasText: 'Running' }).or(page.locator('#sync-status', { hasText: 'Done' })).waitFor();
  await shot('06-sync-running');
  await page.locator('#sync-status', { hasText: 'Done' }).waitFor({ timeout: 120_000 });
  const done = await text('#sync-status');
  check(/ 0 failed/.test(done), `no failures: ${done}`);
  await shot('07-sync-done');
  step('sync', done);

  // 6. Logs: filled, grouped by run, filtered, searched by email, paged, downloaded.
  await page.click('#tab-logs');
  await page.locator('#logs-table tr.entry').first().waitFor({ state: 'attached' });
  const entries = '#logs-table tr.entry';
  const rows = () => page.locator(entries).count();
  check((await rows()) === 50, `a first page of 50 (got ${await rows()})`);
  const actions = await page.locator(`${entries} td:nth-child(3)`).allTextContents();
  // Teams are the sync's last step: the newest entries are theirs.
  check(actions.some((a) => a.startsWith('Team ')), `the teams step is logged in words: ${actions}`);
  const firstTime = page.locator(`${entries} td:nth-child(2) time`).first();
  check(/^UTC: /.test(await firstTime.getAttribute('title')), 'a log time carries UTC on hover');
  // The sync is one run, started from this page: a summary row, its entries folded until opened.
  const run = page.locator('#logs-table tbody.run').first();
  const toggle = run.locator('.run-toggle');
  const summary = await toggle.innerText();
  check(/^Admin page: \d+ entries/.test(summary.replace(/^\W+/, '')), `the run's summary names its trigger: ${summary}`);
  check((await toggle.getAttribute('aria-expanded')) === 'false', 'a run starts folded');
  check(await run.locator('tr.entry').first().isHidden(), "a folded run's entries are hidden");
  const inRun = await run.locator('tr.entry').count();
  const counted = (await run.locator('.run-counts .badge').allTextContents()).reduce((a, b) => a + Number(b.split(' ')[0]), 0);
  check(counted === inRun, `the summary counts the run's ${inRun} entries by outcome (${counted})`);
  await toggle.click();
  check((await toggle.getAttribute('aria-expanded')) === 'true', 'the run expands');
  check(await run.locator('tr.entry').first().isVisible(), "an expanded run's entries show");
  step('run summary', `${summary.replace(/\s+/g, ' ')}, ${inRun} entries`);
  await page.locator('#logs-older').waitFor({ state: 'visible' });
  await page.click('#logs-older');
  await page.waitForFunction(() => document.querySelectorAll('#logs-table tr.entry').length > 50);
  const sequences = await page.locator(`${entries} td:nth-child(1)`).allTextContents();
  const older = await page.locator(`${entries} td:nth-child(3)`).allTextContents();
  check(older.includes('Account created'), `provisions are logged as "Account created": ${[...new Set(older)]}`);
  check(new Set(sequences).size === sequences.length, 'paging repeats no entry');
  for (let i = 1; i < sequences.length; i++) check(Number(sequences[i]) < Number(sequences[i - 1]), 'newest first');
  await shot('08-logs');
  step('logs', `${sequences.length} entries over two pages`);
  // Show, and wait for its answer to be on the page (the table counts the answers shown).
  const shown = async () => {
    const loads = await page.getAttribute('#logs-table', 'data-loads');
    await page.click('#logs-refresh');
    await page.waitForFunction((n) => document.querySelector('#logs-table').dataset.loads !== n, loads);
    check((await text('#logs-error')) === '', `no error: ${await text('#logs-error')}`);
  };
  await page.check('#logs-failures');
  await shown();
  const outcomes = await page.locator(`${entries} td:nth-child(4)`).allTextContents();
  check(outcomes.every((o) => o === 'failure'), `failures only: ${outcomes}`);
  step('failures filter', `${outcomes.length} failures`);
  await page.uncheck('#logs-failures');
  await page.selectOption('#logs-action', 'provision');
  await shown();
  const created = await page.locator(`${entries} td:nth-child(3)`).allTextContents();
  check(created.length > 0 && created.every((a) => a === 'Account created'), `one action: ${[...new Set(created)]}`);
  step('action filter', `${created.length} "Account created"`);
  await page.selectOption('#logs-action', '');
  await page.fill('#logs-person', config.personId);
  await shown();
  const byId = await page.locator(`${entries} td:nth-child(5)`).allTextContents();
  // Entries about the person carry their email (some, e.g. a failure before it is known, none).
  check(byId.includes(config.personEmail) && byId.every((e) => [config.personEmail, ''].includes(e)),
    `only ${config.personEmail}'s entries by id: ${byId}`);
  step('person id filter', config.personId);
  // Searched by work email (any case): only their entries, over the whole log.
  await page.fill('#logs-person', config.personEmail.toUpperCase());
  await shown();
  const byEmail = await page.locator(`${entries} td:nth-child(5)`).allTextContents();
  check(byEmail.length > 0 && byEmail.every((e) => e === config.personEmail), `only their entries by email: ${byEmail}`);
  const theirs = byEmail.length;
  for (const t of await page.locator('#logs-table .run-toggle').all()) await t.click();
  await shot('09-logs-one-person');
  step('email search', `${config.personEmail}: ${theirs} entries`);
  // A period that starts tomorrow (local) holds nothing.
  const tomorrow = new Date(Date.now() + 86_400_000);
  const local = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  await page.fill('#logs-from', local(tomorrow));
  await shown();
  check((await rows()) === 0 && (await page.isVisible('#logs-empty')), 'nothing from tomorrow on');
  await page.fill('#logs-from', '');
  await page.fill('#logs-to', local(new Date()));
  await shown();
  check((await rows()) === theirs, `up to today (local) holds all ${theirs} of their entries (got ${await rows()})`);
  step('date filter', `from ${local(tomorrow)}: none; to today: ${theirs}`);
  // The CSV download: the same filters, through the session cookie.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#logs-csv')]);
  const csvText = (await readFile(await download.path(), 'utf8')).replace(/^\uFEFF/, '');
  const lines = csvText.trim().split(/\r?\n/);
  check(lines[0] === 'sequence,at,action,outcome,person_id,email,http_status,message,run_id,trigger', `the CSV's header: ${lines[0]}`);
  check(lines.length - 1 === theirs, `the CSV holds their ${theirs} rows (got ${lines.length - 1})`);
  check(lines.slice(1).every((l) => l.includes(`,${config.personEmail},`)), 'every CSV row is theirs');
  step('csv download', `${download.suggestedFilename()}: ${lines.length - 1} rows`);
  // The screen as the README shows it: their entries, each run expanded (axe checks the entries too).
  await page.fill('#logs-to', '');
  await shown();
  for (const t of await page.locator('#logs-table .run-toggle').all()) await t.click();
  await screen('logs');

  // 7. Log retention and notifications: refused in the API's words, saved, read back after a
  // reload (the secret never shown), then the page checked by axe and at a phone's width.
  await page.click('#tab-configuration');
  await page.fill('#log-retention', '2500');
  await page.click('#save-settings');
  await page.locator('#settings-result.ok', { hasText: 'Saved' }).waitFor();
  const kinds = ['held', 'unauthorized', 'quarantine', 'dead-letters', 'resolved'];
  for (const k of kinds) check(await page.isChecked(`#notify-${k}`), `every kind is on by default (${k})`);
  check((await text('#notify-signed')).includes('No signing secret'), 'unsigned at first');
  await page.fill('#notify-url', 'http://hooks.example.com/hr');
  await page.click('#save-notify');
  await page.locator('#notify-result.error').waitFor();
  const refusedUrl = await text('#notify-result');
  check(refusedUrl.includes('`url`') && refusedUrl.includes('plain http'), `the API's refusal, shown: ${refusedUrl}`);
  await shot('10-notifications-refused');
  step('notifications refused', refusedUrl);
  const hook = 'https://hooks.example.com/services/T0/B0/acme';
  const notifySecret = 'browser-notify-secret-0001';
  await page.fill('#notify-url', hook);
  await page.fill('#notify-secret', notifySecret);
  await page.uncheck('#notify-quarantine');
  await page.uncheck('#notify-dead-letters');
  await page.click('#save-notify');
  await page.locator('#notify-result.ok', { hasText: 'Saved' }).waitFor();
  check((await page.inputValue('#notify-secret')) === '', 'the secret field is cleared after saving');
  check((await text('#notify-signed')).includes('A signing secret is set'), 'the page says a secret is set');
  await page.reload();
  await page.locator('#app-view').waitFor({ state: 'visible' });
  await page.locator('#tenants button', { hasText: 'acme' }).click();
  await page.locator('#tenant-title', { hasText: 'acme' }).waitFor();
  await page.click('#tab-configuration');
  await page.waitForFunction(() => document.querySelector('#notify-url').value !== '');
  check((await page.inputValue('#log-retention')) === '2500', `log entries kept, read back: ${await page.inputValue('#log-retention')}`);
  check((await page.inputValue('#notify-url')) === hook, `the URL, read back: ${await page.inputValue('#notify-url')}`);
  const on = [];
  for (const k of kinds) if (await page.isChecked(`#notify-${k}`)) on.push(k);
  check(on.join(',') === 'held,unauthorized,resolved', `the kinds, read back: ${on}`);
  check((await text('#notify-signed')).includes('A signing secret is set'), 'signed, read back');
  check((await page.inputValue('#notify-secret')) === '', 'the secret is not filled in');
  check(!(await page.content()).includes(notifySecret), 'the secret is nowhere in the page');
  await shot('11-notifications-saved');
  step('notifications saved', `${hook}, ${on}, signed; log entries kept 2500`);
  // Off again: nothing is sent to the example host by what runs later.
  await page.fill('#notify-url', '');
  await page.click('#save-notify');
  await page.locator('#notify-result.ok', { hasText: 'notifications are off' }).waitFor();
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] }))
    .violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`));
  check(violations.length === 0, `axe finds no violations: ${violations.join('; ')}`);
  step('axe', 'no violations on the configuration tab');
  await page.setViewportSize({ width: 390, height: 844 });
  const widest = await page.evaluate(() => Math.max(document.documentElement.scrollWidth,
    ...[...document.querySelectorAll('#panel-configuration input, #panel-configuration select, #save-notify')]
      .map((e) => e.getBoundingClientRect().right)));
  check(widest <= 390, `nothing wider than 390 px on the configuration tab (widest: ${widest})`);
  await shot('12-configuration-390px');
  step('390 px', `widest ${widest}`);
  await page.setViewportSize({ width: 1280, height: 900 });

}

try {
  if (config.phase === 'attention') await attention();
  else if (config.phase === 'unauthorized') await unauthorized();
  else if (config.phase === 'configure') await configure();
  else await setup();
  check(pageErrors.length === 0, `no uncaught errors in the page: ${pageErrors}`);
  check(externals.length === 0, `nothing loaded from elsewhere: ${externals}`);
  console.log('ok');
} catch (e) {
  await shot('failure').catch(() => {});
  console.log(`FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await context.close();
  await rm(profile, { recursive: true, force: true });
}
