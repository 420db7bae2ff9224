"""Forgery, as a property: thousands of mutated tokens, none accepted (mutated codes are
refused by their check character: tests/vouchers/test_codes.py)."""

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from voucher_service.vouchers import tokens

KEY = Ed25519PrivateKey.generate()
CLAIMS = tokens.Claims(4242, 200_000, 1_900_000_000, "kid-test-0000001")
TOKEN = tokens.sign(KEY, CLAIMS)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


def accepted(token: str) -> tokens.Claims | None:
    try:
        return tokens.verify(tokens.parse(token), KEY.public_key())
    except tokens.TokenRefused:
        return None


@st.composite
def mutated_tokens(draw: st.DrawFn) -> str:
    """Replace, insert or delete a few characters anywhere in a valid token."""
    token = list(TOKEN)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(token) - 1))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        symbol = draw(st.sampled_from(ALPHABET))
        if action == "replace":
            token[position] = symbol
        elif action == "insert":
            token.insert(position, symbol)
        elif len(token) > 1:
            del token[position]
    return "".join(token)


class TestForgery:
    def test_the_genuine_token_verifies(self) -> None:
        assert accepted(TOKEN) == CLAIMS

    @settings(max_examples=3000, deadline=None)
    @given(mutated_tokens())
    def test_no_mutated_token_is_accepted(self, token: str) -> None:
        if token != TOKEN:
            assert accepted(token) is None
