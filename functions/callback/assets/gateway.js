/*! 3ds-gateway browser library, v1 (served at /v1/js/gateway.js; plain JavaScript, no build step).
 *
 * Mounts the two frames 3-D Secure needs on a merchant page and tells the page how the
 * challenge ended:
 *
 *   await ThreeDSGateway.collectDeviceData({ url, accessToken });
 *   const outcome = await ThreeDSGateway.challenge({
 *     container, stepupUrl, accessToken, md, windowSize, gatewayOrigin });
 *
 * `challenge` needs the check enroll made with "completion": "post_message": the
 * gateway's return page then posts the signed result to this page (and only to the
 * merchant's registered origin). The Promise resolves with the outcome when the
 * cardholder is authenticated, and rejects with an Error whose `reason` says why not
 * (`NOT_AUTHENTICATED`, `CHALLENGE_EXPIRED`, `CANCELED_BY_MERCHANT`, ...) and whose
 * `outcome` holds the same signed fields. Either way `outcome.signed` is the signed
 * query string: have your server verify it (docs/merchant-integration.md, "Verifying the signed redirect")
 * before trusting any of it.
 */
(function (global) {
  'use strict';

  var MESSAGE_TYPE = '3ds-gateway:result';
  // EMV 3DS challenge window sizes: width x height in CSS pixels ('05': the container's).
  var WINDOW_SIZES = {
    '01': ['250px', '400px'],
    '02': ['390px', '400px'],
    '03': ['500px', '600px'],
    '04': ['600px', '400px'],
    '05': ['100%', '100%']
  };

  // Posts `fields` into the frame named `target`, as Cardinal's integration does.
  function postInto(target, action, fields) {
    var form = document.createElement('form');
    form.method = 'POST';
    form.action = action;
    form.target = target;
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = fields[name];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
    form.remove();
  }

  function frame(name, id) {
    var iframe = document.createElement('iframe');
    iframe.name = name;
    iframe.id = id;
    iframe.title = 'Bank verification';
    iframe.style.border = '0';
    return iframe;
  }

  var counter = 0;
  function uniqueName(prefix) {
    counter += 1;
    return prefix + '-' + Date.now().toString(36) + '-' + counter;
  }

  /** Device data collection in a hidden frame: done on the bank's `profile.completed`
   *  message, or after `timeoutMs` (the check enroll's browser fields are the fallback). */
  function collectDeviceData(options) {
    return new Promise(function (resolve) {
      var origin = new URL(options.url).origin;
      var name = uniqueName('3ds-ddc');
      var iframe = frame(name, name);
      iframe.style.width = '1px';
      iframe.style.height = '1px';
      iframe.style.position = 'absolute';
      iframe.style.left = '-9999px';
      document.body.appendChild(iframe);
      var timer = setTimeout(finish, options.timeoutMs || 10000);
      function finish() {
        clearTimeout(timer);
        window.removeEventListener('message', onMessage);
        iframe.remove();
        resolve();
      }
      function onMessage(event) {
        if (event.origin !== origin) return;
        try {
          var message = typeof event.data === 'string' ? JSON.parse(event.data) : event.data;
          if (message && message.MessageType === 'profile.completed') finish();
        } catch (_) { /* not the bank's */ }
      }
      window.addEventListener('message', onMessage);
      postInto(name, options.url, { JWT: options.accessToken });
    });
  }

  function outcomeOf(result, signed) {
    return {
      status: result.status,
      reason: result.reason || null,
      flow: result.flow || null,
      // A boolean, or null while unknown (the redirect's text "false" must never read as true).
      liabilityShift: { true: true, false: false }[result.liability_shift] ?? null,
      eci: result.eci || null,
      // What Mastercard requires in the authorization with the ECI; the CAVV is fetched
      // by the merchant's backend from `details` (the status route), never put in a URL.
      directoryServerTransactionId: result.directory_server_transaction_id || null,
      specificationVersion: result.specification_version || null,
      details: result.details || null,
      referenceCode: result.reference_code,
      tenant: result.tenant,
      signed: signed
    };
  }

  /** The challenge in a frame sized for it, inside `container`. Resolves with the
   *  outcome once the gateway's return page posts it (authenticated), rejects otherwise. */
  function challenge(options) {
    return new Promise(function (resolve, reject) {
      var container = options.container;
      if (!container || !options.stepupUrl || !options.accessToken || !options.gatewayOrigin) {
        reject(Object.assign(new Error('container, stepupUrl, accessToken and gatewayOrigin are required'),
          { reason: 'INVALID_OPTIONS' }));
        return;
      }
      var size = WINDOW_SIZES[options.windowSize] || WINDOW_SIZES['02'];
      var name = uniqueName('3ds-challenge');
      var iframe = frame(name, options.frameId || name);
      iframe.style.width = size[0];
      iframe.style.height = size[1];
      container.appendChild(iframe);
      var timer = setTimeout(function () {
        done(null, Object.assign(new Error('the challenge did not end in time'), { reason: 'TIMEOUT' }));
      }, options.timeoutMs || 15 * 60 * 1000);
      function done(outcome, error) {
        clearTimeout(timer);
        window.removeEventListener('message', onMessage);
        if (options.removeFrame !== false) iframe.remove();
        if (error) reject(error); else resolve(outcome);
      }
      function onMessage(event) {
        // Only the gateway's page, in the frame this call made.
        if (event.origin !== options.gatewayOrigin || event.source !== iframe.contentWindow) return;
        var message = event.data;
        if (!message || message.type !== MESSAGE_TYPE || !message.result || !message.signed) return;
        var outcome = outcomeOf(message.result, message.signed);
        if (outcome.status === 'authenticated') {
          done(outcome);
        } else {
          var error = new Error('3-D Secure did not authenticate the cardholder: ' + (outcome.reason || outcome.status));
          error.reason = outcome.reason || outcome.status.toUpperCase();
          error.outcome = outcome;
          done(null, error);
        }
      }
      window.addEventListener('message', onMessage);
      postInto(name, options.stepupUrl, { JWT: options.accessToken, MD: options.md || '' });
    });
  }

  global.ThreeDSGateway = {
    version: '1',
    windowSizes: WINDOW_SIZES,
    collectDeviceData: collectDeviceData,
    challenge: challenge
  };
})(window);
