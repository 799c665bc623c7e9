// The API reference at /docs/api, rendered in headless Chromium: every operation and every
// webhook of the contract the gateway serves has its section, and the page loads nothing
// from anywhere but the gateway (no CDN at run time: its CSP refuses any other origin).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASE, useBrowser, withPage } from './support.mjs';

useBrowser();

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

test('the reference renders every route and every webhook of the served contract', async () => {
  const contract = await (await fetch(`${BASE}/v1/openapi.json`)).json();
  const operations = Object.values(contract.paths)
    .flatMap((item) => METHODS.filter((m) => item[m]).map((m) => item[m].operationId));
  const webhooks = Object.keys(contract.webhooks ?? {});
  assert.ok(operations.length >= 28, `${operations.length} operations`);
  await withPage('api-reference', async (page) => {
    // What the page fetched, and what it tried elsewhere (Redoc's attribution image from its
    // CDN): refused by the page's CSP before it leaves the browser, not merely unreachable.
    const origins = new Set();
    const elsewhere = [];
    const local = (url) => url.startsWith('data:') || url.startsWith('blob:') || url.startsWith(new URL(BASE).origin);
    page.on('requestfinished', (request) => {
      if (!request.url().startsWith('data:') && !request.url().startsWith('blob:')) origins.add(new URL(request.url()).origin);
    });
    page.on('requestfailed', (request) => {
      if (!local(request.url())) elsewhere.push(`${request.url()}: ${request.failure()?.errorText}`);
    });
    const answer = await page.goto(`${BASE}/docs/api`);
    assert.equal(answer.status(), 200);
    const policy = answer.headers()['content-security-policy'] ?? '';
    assert.match(policy, /default-src 'self'/);
    assert.doesNotMatch(policy, /https?:|\*/, 'no other origin is allowed');
    await page.locator('[data-section-id^="operation/"]').first().waitFor({ timeout: 30_000 });
    const rendered = new Set(await page.locator('[data-section-id]').evaluateAll(
      (sections) => sections.map((s) => s.getAttribute('data-section-id'))));
    const missing = operations.filter((id) => ![...rendered].some((s) => s.endsWith(`/operation/${id}`) || s === `operation/${id}`));
    assert.deepEqual(missing, [], 'operations the reference did not render');
    for (const name of webhooks) {
      assert.ok(await page.getByText(name, { exact: true }).count() > 0, `webhook ${name} not rendered`);
    }
    assert.deepEqual([...origins], [new URL(BASE).origin], 'the page loaded only from the gateway');
    for (const refused of elsewhere) assert.match(refused, /ERR_BLOCKED_BY_CSP|csp/i, refused);
  });
});
