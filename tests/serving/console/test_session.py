"""Signed session tokens and CSRF tokens."""

from __future__ import annotations

from serving.console.session import Signer


def test_a_token_verifies_only_for_its_purpose_until_it_expires() -> None:
    signer = Signer("key-1")
    value = signer.issue("session", 60, now=1000)
    assert signer.verify("session", value, now=1059) is not None
    assert signer.verify("session", value, now=1061) is None, "expired"
    assert signer.verify("login", value, now=1000) is None, "a login token is not a session"


def test_tampered_tokens_and_other_keys_are_refused() -> None:
    signer = Signer("key-1")
    value = signer.issue("session", 60, now=1000)
    expires, nonce, mac = value.split(".")
    assert signer.verify("session", f"{int(expires) + 999}.{nonce}.{mac}", now=1000) is None
    assert signer.verify("session", f"{expires}.{nonce}x.{mac}", now=1000) is None
    assert Signer("key-2").verify("session", value, now=1000) is None, "a new key ends every session"
    for junk in (None, "", "a.b", "a.b.c.d", "x.y.z"):
        assert signer.verify("session", junk) is None


def test_csrf_tokens_are_bound_to_the_session() -> None:
    signer = Signer("key-1")
    first = signer.verify("session", signer.issue("session", 60))
    second = signer.verify("session", signer.issue("session", 60))
    assert signer.csrf_ok(first, signer.csrf(first))
    assert not signer.csrf_ok(second, signer.csrf(first))
    assert not signer.csrf_ok(first, None) and not signer.csrf_ok(None, signer.csrf(first))


def test_the_key_comparison() -> None:
    assert Signer.key_matches("secret", "secret") and not Signer.key_matches("secret", "secreT")
