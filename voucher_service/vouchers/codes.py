"""Short codes that a person reads off a cheque and types: ``MCD-7K3Q-9XJ2-H4RT-WNPC``.

Fifteen random characters (15 × log2(31) ≈ 74 bits) and one check character, from an
alphabet of 31 symbols without the look-alikes 0, O, 1, I and L. Since 31 is prime, a
weighted sum modulo 31 with the distinct weights 1..16 catches every single-character
typo and every swap of two characters (adjacent or not), the check character included.
"""

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RANDOM_LENGTH = 15
GROUP = 4
PREFIX = "MCD"
MODULUS = len(ALPHABET)
VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
LENGTH = RANDOM_LENGTH + 1

assert MODULUS == 31 and LENGTH < MODULUS  # prime modulus, weights 1..LENGTH all distinct


def check_character(body: str) -> str:
    """The symbol that makes the weighted sum of body + symbol a multiple of 31."""
    total = sum(weight * VALUES[symbol] for weight, symbol in enumerate(body, start=1))
    last_weight = len(body) + 1
    value = (-total * pow(last_weight, -1, MODULUS)) % MODULUS
    return ALPHABET[value]


def is_well_formed(compact: str) -> bool:
    """Length, alphabet and check character of a code without prefix or dashes."""
    if len(compact) != LENGTH or any(symbol not in VALUES for symbol in compact):
        return False
    total = sum(weight * VALUES[symbol] for weight, symbol in enumerate(compact, start=1))
    return total % MODULUS == 0


def display(compact: str) -> str:
    """``7K3Q9XJ2H4RTWNPC`` → ``MCD-7K3Q-9XJ2-H4RT-WNPC``."""
    groups = [compact[start : start + GROUP] for start in range(0, len(compact), GROUP)]
    return "-".join([PREFIX, *groups])


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return display(body + check_character(body))


def compact(typed: str) -> str:
    """What a person typed, without case, spaces, dashes or the ``MCD`` prefix."""
    letters = "".join(typed.split()).replace("-", "").upper()
    if len(letters) == len(PREFIX) + LENGTH and letters.startswith(PREFIX):
        letters = letters[len(PREFIX) :]
    return letters


def normalise(typed: str) -> str | None:
    """The code in its printed form, or None when it cannot be one of ours."""
    letters = compact(typed)
    return display(letters) if is_well_formed(letters) else None


def could_be_part(letters: str) -> bool:
    """Whether compacted text could be a piece of a printed code (the prefix's letters are
    of the alphabet too)."""
    return all(symbol in VALUES for symbol in letters)
