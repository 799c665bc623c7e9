"""The documentation's request bodies (as tests/support/merchant.rs writes them)."""

FRICTIONLESS_CARD = "4000000000002701"
CHALLENGE_CARD = "4000000000002503"


def setup_body(reference, card):
    return {
        "transaction_info": {"type": "setup", "reference_code": reference},
        "card": {"number": card, "expiration_date": "01/2030"},
    }


def enroll_body(reference, card, reference_id, origin):
    return {
        "transaction_info": {"type": "check_enroll", "reference_code": reference},
        "card": {"number": card, "expiration_date": "01/2030"},
        "order_info": {"amount_details": {"total_amount": "1000", "currency": "MXN"}},
        "bill_to": {
            "first_name": "John", "last_name": "Doe", "country": "US",
            "address_1": "1 Market St", "address_2": "Suite 200", "city": "san francisco",
            "state": "CA", "phone_number": "4158880000", "email": "accept@gmsectec.com",
            "postal_code": "94105",
        },
        "buyer_info": {"mobile_phone": "4158880000"},
        "device_info": {
            "ip_address": "190.123.237.237", "http_browser_color_depth": "30",
            "http_browser_java_enabled": False, "http_browser_js_enabled": True,
            "http_browser_screen_height": "1117", "http_browser_screen_width": "1728",
            "http_browser_time_offset": "240",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36",
            "cookies_accepted": True, "http_browser_language": "en-US",
            "http_accept_content": "application/json",
        },
        "authentication": {
            "reference_id": reference_id,
            "return_url": f"{origin}/checkout/return?order=42",
            "device_channel": "Browser",
            "mode": "S",
            "token": "AxixbwSTl1LdGx33S/NFAU9+ZWgkZAKH0MmkmXoxkcwdAJgAOBao",
        },
    }
