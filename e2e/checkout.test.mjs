// Browser end-to-end tests of the demo checkout in headless Chromium (Debian's package,
// driven by playwright-core). The test command starts the local stack and passes its URL
// in DEMO_URL. On a failure the page's screenshot and HTML are saved under
// e2e/artifacts/ and the paths are printed.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import {
  BASE, REDIRECT_KEYS, TENANT, challengeFrame, challengeWith, pay, result, returnResponse, useBrowser, verify, withPage,
} from './support.mjs';

// The demo merchant's development webhook secret (local/src/tenants.rs).
const WEBHOOK_SECRET = 'whsec_bG9jYWwtZGV2LXdlYmhvb2stc2VjcmV0LWRlbW8tc2hvcA==';

useBrowser();

/**
 * A webhook the demo merchant's backend received: an authentication's event as the
 * contract gives it, and the delivery as it came (body and Standard Webhooks headers).
 * @typedef {import('./types/openapi.js').components['schemas']} Contract
 * @typedef {Omit<Contract['Event'], 'data'> & { data: Contract['AuthenticationEventData'] }} AuthenticationEvent
 * @typedef {{ id: string, event: AuthenticationEvent,
 *   delivery: { body: string, 'webhook-id': string, 'webhook-timestamp': string, 'webhook-signature': string } }} ReceivedWebhook
 */

/**
 * The webhooks the demo merchant's backend received for one order, waited for.
 * @returns {Promise<ReceivedWebhook[]>}
 */
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
    const verified = /** @type {{ id: string }} */ (new Webhook(WEBHOOK_SECRET).verify(body, headers));
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


// --- Completion modes and the browser library (gateway.js)

test('completion "redirect": a signed 303 inside the frame, then the result page', async () => {
  await withPage('completion-redirect', async (page) => {
    const response = await challengeWith(page, 'redirect');
    assert.equal(response.status(), 303);
    const outcome = await result(page);
    assert.equal(outcome.status, 'authenticated');
    const fields = verify(new URL(page.url()).search, REDIRECT_KEYS, TENANT);
    assert.equal(fields.flow, 'challenge');
    assert.equal(fields.liability_shift, 'true');
  });
});

test('completion "top": a page with a nonce-only script sends the top window to the signed URL', async () => {
  await withPage('completion-top', async (page) => {
    const response = await challengeWith(page, 'top');
    assert.equal(response.status(), 200);
    const policy = response.headers()['content-security-policy'];
    assert.match(policy, /script-src 'nonce-[0-9a-f]{32}'/);
    assert.doesNotMatch(policy, /unsafe-inline/);
    const outcome = await result(page);
    assert.equal(outcome.status, 'authenticated');
    const fields = verify(new URL(page.url()).search, REDIRECT_KEYS, TENANT);
    assert.equal(fields.flow, 'challenge');
  });
});

test('completion "post_message": the library resolves with the signed outcome', async () => {
  await withPage('completion-post-message', async (page) => {
    const response = await challengeWith(page, 'post_message');
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-security-policy'], /script-src 'nonce-/);
    const outcome = await result(page);
    assert.equal(outcome.status, 'authenticated');
    assert.match(outcome.proof, /signature verified/);
    const fields = verify(new URL(page.url()).search, REDIRECT_KEYS, TENANT);
    assert.equal(fields.flow, 'challenge');
    assert.equal(fields.liability_shift, 'true');
    assert.equal(await page.locator('#challenge-frame').count(), 0, 'the frame is gone with the checkout');
  });
});

/**
 * Runs a challenge in post_message mode and returns how the library's Promise settled.
 * @param {import('playwright-core').Page} page
 * @param {{ card?: string, code?: string, base?: string, before?: (page: import('playwright-core').Page) => Promise<void> }} [options]
 */
async function librarySettles(page, { card = '4000000000002503', code = '1234', base = BASE, before = undefined } = {}) {
  await page.goto(`${base}/demo/?completion=post_message`);
  // Watch the library's Promise: wrap ThreeDSGateway.challenge before the checkout calls it.
  await page.evaluate(() => {
    const original = window.ThreeDSGateway.challenge;
    window.ThreeDSGateway.challenge = (options) => {
      const promise = original(options);
      window.settled = promise.then(
        (outcome) => ({ resolved: outcome }),
        (error) => ({ rejected: { reason: error.reason, outcome: error.outcome } }),
      );
      return new Promise(() => {}); // keep the checkout on this page
    };
  });
  await page.fill('#card-number', card);
  await page.click('#pay');
  const frame = await challengeFrame(page);
  if (before) await before(page);
  await frame.locator('#otp').fill(code);
  await frame.locator('#submit').click();
  return page.evaluate(() => window.settled);
}

test('the library resolves on success and rejects with a reason on failure and on cancel', async () => {
  await withPage('library-outcomes', async (page) => {
    const success = await librarySettles(page);
    assert.equal(success.resolved.status, 'authenticated');
    assert.equal(success.resolved.flow, 'challenge');
    assert.equal(success.resolved.liabilityShift, true);
    assert.equal(verify(success.resolved.signed, REDIRECT_KEYS, TENANT).status, 'authenticated');

    const failure = await librarySettles(page, { code: '0000' });
    assert.equal(failure.rejected.reason, 'NOT_AUTHENTICATED');
    assert.equal(failure.rejected.outcome.status, 'failed');
    assert.equal(verify(failure.rejected.outcome.signed, REDIRECT_KEYS, TENANT).reason, 'NOT_AUTHENTICATED');

    // The merchant cancels while the cardholder is at the bank's page.
    const canceled = await librarySettles(page, {
      before: async (p) => {
        const reference = await p.evaluate(() => window.demoReference);
        const answer = await p.evaluate(async (ref) => (await fetch('/demo/api/cancel', {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ reference_code: ref }),
        })).status, reference);
        assert.equal(answer, 200);
      },
    });
    assert.equal(canceled.rejected.reason, 'CANCELED_BY_MERCHANT');
    assert.equal(canceled.rejected.outcome.status, 'canceled');
    assert.equal(canceled.rejected.outcome.liabilityShift, null, 'null while unknown, never a string');
  });
});

test('the library rejects with CHALLENGE_EXPIRED after the deadline', async () => {
  // A stack of its own whose challenges last two seconds.
  const { spawn } = await import('node:child_process');
  const net = await import('node:net');
  const freePort = () => new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
  const [port, sandboxPort] = [await freePort(), await freePort()];
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const { openSync } = await import('node:fs');
  const logDir = process.env.GATEWAY_TEST_LOG_DIR ?? path.join(root, 'target', 'test-logs');
  await mkdir(logDir, { recursive: true });
  const log = openSync(path.join(logDir, 'local-e2e-expiry.log'), 'w');
  const stack = spawn(path.join(root, 'target', 'debug', 'gateway-local'),
    ['--port', String(port), '--sandbox-port', String(sandboxPort)],
    { env: { ...process.env, CHALLENGE_DEADLINE_SECS: '2' }, stdio: ['ignore', log, 'ignore'] });
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      try { if ((await fetch(`${base}/demo/`)).ok) break; } catch (_) { /* starting */ }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await withPage('library-expired', async (page) => {
      const expired = await librarySettles(page, {
        base,
        before: () => new Promise((resolve) => setTimeout(resolve, 3000)),
      });
      assert.equal(expired.rejected.reason, 'CHALLENGE_EXPIRED');
      assert.equal(expired.rejected.outcome.status, 'expired');
    });
  } finally {
    stack.kill();
  }
});

test('a page on another origin than the merchant registered receives nothing', async () => {
  await withPage('post-message-other-origin', async (page) => {
    // The same checkout, served from http://localhost (demo-shop-b's origin); the gateway
    // answers demo-shop, whose registered origin is http://127.0.0.1.
    const otherOrigin = BASE.replace('127.0.0.1', 'localhost');
    await page.goto(`${otherOrigin}/demo/?completion=post_message`);
    await page.evaluate(() => {
      window.received = [];
      window.addEventListener('message', (event) => {
        if (event.data && event.data.type === '3ds-gateway:result') window.received.push(event.origin);
      });
    });
    await page.fill('#card-number', '4000000000002503');
    const returned = returnResponse(page);
    await page.click('#pay');
    const frame = await challengeFrame(page);
    await frame.locator('#otp').fill('1234');
    await frame.locator('#submit').click();
    assert.equal((await returned).status(), 200, 'the return page was served');
    await page.waitForTimeout(1500);
    assert.deepEqual(await page.evaluate(() => window.received), [], 'no result reached this page');
    assert.match(page.url(), /\/demo\/\?completion=post_message$/, 'still on the checkout');
  });
});

test('frictionless in every completion mode: no challenge, the outcome from the status API', async () => {
  await withPage('frictionless-every-mode', async (page) => {
    for (const mode of ['redirect', 'top', 'post_message']) {
      await page.goto(`${BASE}/demo/?completion=${mode}`);
      await page.fill('#card-number', '4000000000002701');
      await page.click('#pay');
      const outcome = await result(page);
      assert.equal(outcome.status, 'authenticated', mode);
      assert.equal(outcome.liabilityShift, 'yes', mode);
      const reference = new URL(page.url()).searchParams.get('reference_code');
      const [webhook] = await webhooksFor(reference);
      assert.equal(webhook.event.data.flow, 'frictionless', mode);
      assert.equal(webhook.event.data.liability_shift, true, mode);
    }
  });
});
