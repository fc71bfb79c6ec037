"""PII masking keeps ordinary numbers and masks identifiers."""

from __future__ import annotations

from tunesmith.feedback.pii import mask_messages, mask_text


def test_identifiers_are_masked():
    text = ("Mail jo.doe+x@mail.example.org or call (555) 123-4567 / +33 6 12 34 56 78. Card 4111 1111 1111 1111, "
            "IBAN DE89 3704 0044 0532 0130 00, from 192.168.1.20 via https://bob:s3cret@host.test/x")
    masked = mask_text(text)
    for secret in ("jo.doe", "123-4567", "12 34 56", "4111", "DE89", "192.168", "s3cret"):
        assert secret not in masked, secret
    for tag in ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[IP]", "[CREDENTIALS]"):
        assert tag in masked, tag


def test_ordinary_numbers_survive():
    text = "Order 3 wheels for 2026, model X-200, size 29 inch, order number 12345678."
    assert mask_text(text) == text
    # A 16-digit number failing the Luhn check is not a card.
    assert mask_text("ref 1234 5678 9012 3456") != "ref [CARD]"


def test_messages_are_copied_not_changed_in_place():
    messages = [{"role": "user", "content": "I am ann@example.com"}, {"role": "assistant", "content": None}]
    masked = mask_messages(messages)
    assert masked[0]["content"] == "I am [EMAIL]" and messages[0]["content"] == "I am ann@example.com"
    assert masked[1] == {"role": "assistant", "content": None}
