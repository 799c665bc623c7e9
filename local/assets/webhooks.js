// The demo merchant's result page: shows the webhooks its backend received (and
// verified) for this order. The outcome reaches the merchant this way even when the
// browser never comes back.
(function () {
  const reference = new URLSearchParams(window.location.search).get('reference_code');
  const target = document.getElementById('result-webhook');
  if (!reference || !target) return;
  let tries = 0;
  async function poll() {
    tries += 1;
    try {
      const response = await fetch(`/demo/api/webhooks?reference_code=${encodeURIComponent(reference)}`);
      const { webhooks } = await response.json();
      if (webhooks.length > 0) {
        target.textContent = webhooks
          .map((w) => `${w.event.type} (signature verified, ${w.id})`)
          .join('; ');
        return;
      }
    } catch (_) {
      // try again
    }
    if (tries < 60) setTimeout(poll, 500);
    else target.textContent = 'no webhook received';
  }
  poll();
})();
