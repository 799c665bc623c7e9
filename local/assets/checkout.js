// The demo merchant's front end. It talks only to its own server (/demo/api/...), which
// holds the gateway API key; the bank's pages (the sandbox) are in the frames the
// gateway's browser library mounts (/v1/js/gateway.js). `?completion=` picks how the
// challenge ends: post_message (the library's Promise, the default), top, or redirect.
// Its answers are typed from the API contract (e2e/tsconfig.json checks this file against
// the types openapi-typescript generates from docs/openapi.json).
'use strict';

/** @typedef {import('../../e2e/types/openapi').components['schemas']} Contract */

/** @param {string} id @returns {any} a form element of the page */
const $ = (id) => document.getElementById(id);
const progress = (text) => { $('progress').textContent = text; };

for (const row of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('tr.card-row'))) {
  row.addEventListener('click', () => { $('card-number').value = row.dataset.card; });
}

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(json.message || `HTTP ${response.status}`);
  return json;
}

function browserData() {
  return {
    color_depth: String(screen.colorDepth),
    screen_height: String(screen.height),
    screen_width: String(screen.width),
    time_offset: String(new Date().getTimezoneOffset()),
    language: navigator.language || 'en-US',
    user_agent: navigator.userAgent,
    java_enabled: false,
    cookies_accepted: navigator.cookieEnabled,
  };
}

// The gateway's origin: this page's own, unless the server says the gateway is elsewhere.
const gatewayOrigin = document.body.dataset.gateway ? new URL(document.body.dataset.gateway).origin : window.location.origin;
const completion = new URLSearchParams(window.location.search).get('completion') || 'post_message';

$('checkout').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('pay').disabled = true;
  const card = { card_number: $('card-number').value.trim(), expiration_date: $('expiry').value.trim() };
  try {
    progress('Setting up 3-D Secure…');
    const setup = await post('/demo/api/setup', card);
    progress('Collecting device data…');
    await ThreeDSGateway.collectDeviceData({ url: setup.device_data_collection_url, accessToken: setup.access_token });
    progress('Checking with your bank…');
    // The merchant's backend answers with the gateway's check enroll answer as it came.
    /** @type {Contract['CheckEnrollAnswer']} */
    const enroll = await post('/demo/api/enroll', {
      ...card,
      reference_code: setup.reference_code,
      reference_id: setup.reference_id,
      token: setup.token,
      amount: $('amount').value.trim(),
      currency: $('currency').value,
      browser: browserData(),
      completion,
    });
    const info = enroll.data.consumer_auth_info;
    if (enroll.data.transaction_info.status === 'Pending_authentication') {
      progress('Waiting for your bank…');
      $('challenge').style.display = 'block';
      window.demoReference = setup.reference_code;
      const challenge = ThreeDSGateway.challenge({
        container: $('challenge'),
        frameId: 'challenge-frame',
        stepupUrl: info.stepup_url,
        accessToken: info.access_token,
        md: setup.reference_code,
        windowSize: info.challenge_window_size,
        gatewayOrigin,
        removeFrame: false,
      });
      // The signed outcome goes to the merchant's result page, whose server verifies it.
      challenge.then(
        (outcome) => { window.location.href = '/demo/result?' + outcome.signed; },
        (error) => {
          if (error.outcome) window.location.href = '/demo/result?' + error.outcome.signed;
          else progress('The challenge did not end: ' + error.reason);
        },
      );
    } else {
      window.location.href = '/demo/result?reference_code=' + encodeURIComponent(setup.reference_code);
    }
  } catch (error) {
    progress('Payment could not be checked: ' + error.message);
    $('pay').disabled = false;
  }
});
