// What every browser test file shares: the demo merchant's keys, the merchant guide's
// verifier of the signed redirect, headless Chromium and the checkout's steps.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { after, before } from 'node:test';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE = process.env.DEMO_URL ?? 'http://127.0.0.1:3000';
// The demo merchant's development redirect key and tenant id (local/src/tenants.rs).
export const REDIRECT_KEYS = { 'demo-shop-1': 'local-dev-redirect-key-demo-shop-0000001' };
export const TENANT = 'demo-shop';

/** The merchant guide's JavaScript verifier (docs/merchant-integration.md), run on the redirect the browser really received. */
export function verify(query, keys, tenant, maxAgeSeconds = 600) {
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
export const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');

let browser;

/** Headless Chromium (Debian's), launched before the file's tests and closed after them. */
export function useBrowser() {
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
}

/** Runs `scenario` on a fresh page; keeps a screenshot and the HTML if it fails. */
export async function withPage(name, scenario) {
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

export async function pay(page, card) {
  await page.goto(`${BASE}/demo/`);
  await page.fill('#card-number', card);
  await page.click('#pay');
}

/** The challenge iframe, once the bank's page is in it. */
export async function challengeFrame(page) {
  await page.locator('#challenge').waitFor({ state: 'visible', timeout: 20_000 });
  const frame = page.frameLocator('#challenge-frame');
  await frame.locator('#otp').waitFor({ timeout: 20_000 });
  return frame;
}

export async function result(page) {
  await page.waitForURL(/\/demo\/result/, { timeout: 20_000 });
  await page.locator('#result-status').waitFor();
  return {
    status: (await page.textContent('#result-status')).trim(),
    eci: (await page.textContent('#result-eci')).trim(),
    liabilityShift: (await page.textContent('#result-liability')).trim(),
    proof: (await page.textContent('#result-proof')).trim(),
  };
}

/** The callback's answer to the browser's return (the bank's page posting to our return URL). */
export function returnResponse(page) {
  return page.waitForResponse((r) => r.url().includes('/v1/risk/authentication/callback/') && r.request().method() === 'POST');
}

/**
 * Pays with a challenge card in completion `mode` and types `code` at the bank's page;
 * resolves with the callback's answer to the browser's return.
 * @param {import('playwright-core').Page} page
 */
export async function challengeWith(page, mode, card = '4000000000002503', code = '1234') {
  await page.goto(`${BASE}/demo/?completion=${mode}`);
  await page.fill('#card-number', card);
  const returned = returnResponse(page);
  await page.click('#pay');
  const frame = await challengeFrame(page);
  await frame.locator('#otp').fill(code);
  await frame.locator('#submit').click();
  return returned;
}
