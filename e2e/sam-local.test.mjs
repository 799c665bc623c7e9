// The browser's flows through the real `sam local start-api` (scripts/sam_start_api.py
// starts it, with the demo merchant alone in front of it at DEMO_URL). The gateway's
// routes are at GATEWAY_URL, served by SAM's local API Gateway from the functions'
// bootstraps in containers: the checkout loads gateway.js from there, the merchant's
// backend calls setup, check enroll and status there, and the bank's page (the sandbox)
// posts the challenge's end to the return URL SAM serves.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  REDIRECT_KEYS, TENANT, challengeWith, pay, result, useBrowser, verify, withPage,
} from './support.mjs';

const GATEWAY = process.env.GATEWAY_URL;
assert.ok(GATEWAY, 'GATEWAY_URL: the routes sam local start-api serves');

useBrowser();

/** Every response the page got from the gateway (SAM), by path. */
function gatewayResponses(page) {
  const seen = [];
  page.on('response', (r) => {
    if (r.url().startsWith(GATEWAY)) seen.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
  });
  return seen;
}

test('frictionless through SAM: no challenge, the outcome read from the status route SAM serves', async () => {
  await withPage('sam-frictionless', async (page) => {
    const seen = gatewayResponses(page);
    await pay(page, '4000000000002701');
    const outcome = await result(page);
    assert.equal(outcome.status, 'authenticated');
    assert.equal(outcome.eci, '05');
    assert.equal(outcome.liabilityShift, 'yes');
    assert.match(outcome.proof, /status API/);
    assert.deepEqual(seen, [`GET /v1/js/gateway.js 200`], 'the browser took only the library from the gateway');
  });
});

test('challenge through SAM: the bank posts to the return URL SAM serves, the signed result verifies', async () => {
  await withPage('sam-challenge', async (page) => {
    const seen = gatewayResponses(page);
    const answer = await challengeWith(page, 'post_message');
    assert.ok(answer.url().startsWith(`${GATEWAY}/v1/risk/authentication/callback/`), answer.url());
    assert.equal(answer.status(), 200, 'post_message: the return page, served by the callback function');
    const outcome = await result(page);
    assert.equal(outcome.status, 'authenticated');
    assert.equal(outcome.liabilityShift, 'yes');
    assert.match(outcome.proof, /signature verified/);
    const fields = verify(new URL(page.url()).search, REDIRECT_KEYS, TENANT);
    assert.equal(fields.flow, 'challenge');
    assert.equal(fields.liability_shift, 'true');
    assert.match(fields.reference_code, /^demo-/);
    assert.ok(seen.some((line) => /^POST \/v1\/risk\/authentication\/callback\/\S+ 200$/.test(line)), seen.join('\n'));
  });
});

test('challenge through SAM with completion "redirect": a signed 303 from the callback, then the result page', async () => {
  await withPage('sam-challenge-redirect', async (page) => {
    const answer = await challengeWith(page, 'redirect', '4000000000002503', '0000');
    assert.equal(answer.status(), 303);
    assert.ok(answer.headers().location.startsWith(`${new URL(page.url()).origin}/demo/result?`), answer.headers().location);
    const outcome = await result(page);
    assert.equal(outcome.status, 'failed', 'a wrong code');
    assert.equal(outcome.liabilityShift, 'no');
    const fields = verify(new URL(page.url()).search, REDIRECT_KEYS, TENANT);
    assert.equal(fields.status, 'failed');
    assert.equal(fields.reason, 'NOT_AUTHENTICATED');
  });
});
