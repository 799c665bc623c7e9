// Browser end-to-end tests of the demo checkout in headless Chromium (Debian's package,
// driven by playwright-core). The test command starts the local stack and passes its URL
// in DEMO_URL. On a failure the page's screenshot and HTML are saved under
// e2e/artifacts/ and the paths are printed.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Webhook } from 'standardwebhooks';

const BASE = process.env.DEMO_URL ?? 'http://127.0.0.1:3000';
// The demo merchant's development redirect key and tenant id (local/src/tenants.rs).
const REDIRECT_KEYS = { 'demo-shop-1': 'local-dev-redirect-key-demo-shop-0000001' };
const TENANT = 'demo-shop';
// The demo merchant's development webhook secret (local/src/tenants.rs).
const WEBHOOK_SECRET = 'whsec_bG9jYWwtZGV2LXdlYmhvb2stc2VjcmV0LWRlbW8tc2hvcA==';

/** The webhooks the demo merchant's backend received for one order, waited for. */
async function webhooksFor(reference, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await fetch(`${BASE}/demo/api/webhooks?reference_code=${encodeURIComponent(reference)}`);
    const { webhooks } = await response.json();
    if (webhooks.length > 0) return webhooks;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no webhook for ${reference}`);
}

/** The README's JavaScript verifier, run on the redirect the browser really received. */
function verify(query, keys, tenant, maxAgeSeconds = 600) {
  const params = [...new URLSearchParams(query)];
  if (new Set(params.map(([k]) => k)).size !== params.length) throw new Error('repeated parameter');
  const signature = params.find(([k]) => k === 'signature')?.[1] ?? '';
  const bytes = (s) => Buffer.from(s, 'utf8');
  const rest = params.filter(([k]) => k !== 'signature').sort(([a], [b]) => Buffer.compare(bytes(a), bytes(b)));
  const fields = Object.fromEntries(rest);
  const key = keys[fields.kid];
  if (!key) throw new Error('unknown key');
  const expected = createHmac('sha256', key).update(new URLSearchParams(rest).toString()).digest('hex');
  if (signature.length !== expected.length || !timingSafeEqual(bytes(signature), bytes(expected))) {
    throw new Error('bad signature');
  }
  if (fields.tenant !== tenant) throw new Error('a redirect for another merchant');
  const age = Date.now() / 1000 - Number(fields.ts);
  if (!(age <= maxAgeSeconds && age >= -60)) throw new Error('stale redirect');
  return fields; // then: fields.reference_code is the order in progress
}
const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
});

/** Runs `scenario` on a fresh page; keeps a screenshot and the HTML if it fails. */
async function withPage(name, scenario) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  try {
    await scenario(page);
  } catch (error) {
    await mkdir(ARTIFACTS, { recursive: true });
    const base = path.join(ARTIFACTS, name.replace(/[^a-z0-9]+/gi, '-'));
    await page.screenshot({ path: `${base}.png`, fullPage: true }).catch(() => {});
    await writeFile(`${base}.html`, await page.content().catch(() => ''));
    await writeFile(`${base}.console.txt`, consoleLines.join('\n'));
    error.message += `\n  screenshot: ${base}.png\n  page HTML:  ${base}.html\n  console:    ${base}.console.txt`;
    throw error;
  } finally {
    await context.close();
  }
}

async function pay(page, card) {
  await page.goto(`${BASE}/demo/`);
  await page.fill('#card-number', card);
  await page.click('#pay');
}

/** The challenge iframe, once the bank's page is in it. */
async function challengeFrame(page) {
  await page.locator('#challenge').waitFor({ state: 'visible', timeout: 20_000 });
  const frame = page.frameLocator('#challenge-frame');
  await frame.locator('#otp').waitFor({ timeout: 20_000 });
  return frame;
}

async function result(page) {
  await page.waitForURL(/\/demo\/result/, { timeout: 20_000 });
  await page.locator('#result-status').waitFor();
  return {
    status: (await page.textContent('#result-status')).trim(),
    eci: (await page.textContent('#result-eci')).trim(),
    liabilityShift: (await page.textContent('#result-liability')).trim(),
    proof: (await page.textContent('#result-proof')).trim(),
  };
}

test('frictionless success: no challenge, authenticated with liability shift', async () => {
  await withPage('frictionless-success', async (page) => {
    await pay(page, '4000000000002701');
    const outcome = await result(page);
    assert.equal(outcome.status, 'authenticated');
    assert.equal(outcome.eci, '05');
    assert.equal(outcome.liabilityShift, 'yes');
    assert.match(outcome.proof, /status API/);
    assert.equal(await page.locator('#challenge-frame').count(), 0, 'the result page has no challenge');
  });
});

test('challenge success: the cardholder types the code, the signed redirect verifies', async () => {
  await withPage('challenge-success', async (page) => {
    await pay(page, '4000000000002503');
    const frame = await challengeFrame(page);
    await frame.locator('#otp').fill('1234');
    await frame.locator('#submit').click();
    const outcome = await result(page);
    assert.equal(outcome.status, 'authenticated');
    assert.equal(outcome.eci, '05');
    assert.equal(outcome.liabilityShift, 'yes');
    assert.match(outcome.proof, /signature verified/);
    const fields = verify(new URL(page.url()).search, REDIRECT_KEYS, TENANT);
    assert.equal(fields.status, 'authenticated');
    assert.equal(fields.liability_shift, 'true');
    assert.match(fields.reference_code, /^demo-/);
  });
});

test('challenge failure: a wrong code ends not authenticated', async () => {
  await withPage('challenge-failure', async (page) => {
    await pay(page, '4000000000002503');
    const frame = await challengeFrame(page);
    await frame.locator('#otp').fill('0000');
    await frame.locator('#submit').click();
    const outcome = await result(page);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.eci, '07');
    assert.equal(outcome.liabilityShift, 'no');
    assert.match(outcome.proof, /signature verified/);
  });
});

test('cancel: the cardholder abandons the challenge', async () => {
  await withPage('challenge-cancel', async (page) => {
    await pay(page, '5200000000002151');
    const frame = await challengeFrame(page);
    await frame.locator('#cancel').click();
    const outcome = await result(page);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.eci, '00', 'Mastercard reports eci_raw 00');
    assert.equal(outcome.liabilityShift, 'no');
    assert.match(outcome.proof, /signature verified/);
  });
});

test('the browser never comes back: the merchant still gets the signed authentication.succeeded', async () => {
  await withPage('webhook-without-the-browser', async (page) => {
    // The merchant's return page never loads, as if the tab closed right after the bank's page.
    let returned = false;
    await page.route('**/demo/result**', (route) => { returned = true; return route.abort(); });
    const setup = page.waitForResponse('**/demo/api/setup');
    await pay(page, '4000000000002503');
    const reference = (await (await setup).json()).reference_code;
    const frame = await challengeFrame(page);
    await frame.locator('#otp').fill('1234');
    await frame.locator('#submit').click();
    const [webhook] = await webhooksFor(reference);
    assert.equal(returned, true, 'the browser was sent back, and never got there');
    assert.equal(webhook.event.type, 'authentication.succeeded');
    assert.equal(webhook.event.data.reference_code, reference);
    assert.equal(webhook.event.data.flow, 'challenge');
    assert.equal(webhook.event.data.authentication.liability_shift, true);
    // The Standard Webhooks reference library (npm) verifies the delivery as received.
    const { body, ...headers } = webhook.delivery;
    const verified = new Webhook(WEBHOOK_SECRET).verify(body, headers);
    assert.equal(verified.id, webhook.id);
    assert.throws(() => new Webhook('whsec_' + Buffer.from('another-secret-of-enough-length!').toString('base64')).verify(body, headers));
  });
});

test('the result page shows the webhook beside the signed redirect', async () => {
  await withPage('webhook-on-the-result-page', async (page) => {
    await pay(page, '4000000000002503');
    const frame = await challengeFrame(page);
    await frame.locator('#otp').fill('1234');
    await frame.locator('#submit').click();
    await result(page);
    await page.locator('#result-webhook', { hasText: 'authentication.succeeded' }).waitFor({ timeout: 20_000 });
    assert.match(await page.textContent('#result-webhook'), /signature verified, evt_/);
  });
});

