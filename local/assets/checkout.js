// The demo merchant's front end. It talks only to its own server (/demo/api/...), which
// holds the gateway API key; the browser talks to the bank (sandbox) pages only through
// the iframes the 3DS flow requires.
'use strict';

const $ = (id) => document.getElementById(id);
const progress = (text) => { $('progress').textContent = text; };

for (const row of document.querySelectorAll('tr.card-row')) {
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

// Posts `fields` into the iframe named `target`, as Cardinal's integration does.
function postInto(target, action, fields) {
  const form = document.createElement('form');
  form.method = 'POST';
  form.action = action;
  form.target = target;
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement('input');
    input.type = 'hidden';
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
  document.body.appendChild(form);
  form.submit();
  form.remove();
}

// Device data collection: a hidden iframe; done on the bank's `profile.completed` message,
// or after 10 s (the enroll call carries the browser fields as a fallback).
function collectDeviceData(url, jwt) {
  return new Promise((resolve) => {
    const origin = new URL(url).origin;
    const timer = setTimeout(finish, 10000);
    function finish() {
      clearTimeout(timer);
      window.removeEventListener('message', onMessage);
      resolve();
    }
    function onMessage(event) {
      if (event.origin !== origin) return;
      try {
        const message = typeof event.data === 'string' ? JSON.parse(event.data) : event.data;
        if (message.MessageType === 'profile.completed') finish();
      } catch (_) { /* not ours */ }
    }
    window.addEventListener('message', onMessage);
    postInto('ddc-frame', url, { JWT: jwt });
  });
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

$('checkout').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('pay').disabled = true;
  const card = { card_number: $('card-number').value.trim(), expiration_date: $('expiry').value.trim() };
  try {
    progress('Setting up 3-D Secure…');
    const setup = await post('/demo/api/setup', card);
    progress('Collecting device data…');
    await collectDeviceData(setup.device_data_collection_url, setup.access_token);
    progress('Checking with your bank…');
    const enroll = await post('/demo/api/enroll', {
      ...card,
      reference_code: setup.reference_code,
      reference_id: setup.reference_id,
      token: setup.token,
      amount: $('amount').value.trim(),
      currency: $('currency').value,
      browser: browserData(),
    });
    const info = enroll.data.consumer_auth_info;
    if (enroll.data.transaction_info.status === 'Pending_authentication') {
      progress('Waiting for your bank…');
      $('challenge').style.display = 'block';
      postInto('challenge-frame', info.stepup_url, { JWT: info.access_token, MD: setup.reference_code });
    } else {
      window.location.href = '/demo/result?reference_code=' + encodeURIComponent(setup.reference_code);
    }
  } catch (error) {
    progress('Payment could not be checked: ' + error.message);
    $('pay').disabled = false;
  }
});
