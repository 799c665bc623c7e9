"""Verifies one webhook delivery with the Standard Webhooks reference library (PyPI
`standardwebhooks`), as a merchant would. The tests call it with a delivery they
received; exit 0 means the library accepted it.

Usage: verify_webhook.py SECRET < {"headers": {...}, "body": "..."}
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

delivery = json.load(sys.stdin)
try:
    payload = Webhook(sys.argv[1]).verify(delivery["body"], delivery["headers"])
except WebhookVerificationError as error:
    print(f"refused: {error}")
    sys.exit(1)
print(json.dumps({"verified": True, "type": payload.get("type")}))
