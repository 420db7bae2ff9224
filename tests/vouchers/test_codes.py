"""Short codes: unguessable, readable, and a check character that catches typing mistakes."""

import math
import re
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from voucher_service.vouchers import codes

SHAPE = re.compile(
    r"^MCD-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$"
)
symbols = st.sampled_from(codes.ALPHABET)
bodies = st.text(
    alphabet=codes.ALPHABET, min_size=codes.RANDOM_LENGTH, max_size=codes.RANDOM_LENGTH
)


def full(body: str) -> str:
    return body + codes.check_character(body)


class TestShape:
    def test_printed_in_groups_of_four_without_look_alikes(self) -> None:
        for _ in range(200):
            code = codes.new_code()
            assert SHAPE.match(code), code
            assert not set(code.removeprefix("MCD-")) & set("01OIL")
            assert codes.normalise(code) == code

    def test_at_least_60_bits_of_randomness(self) -> None:
        assert codes.RANDOM_LENGTH * math.log2(len(codes.ALPHABET)) >= 60

    def test_every_random_position_uses_the_whole_alphabet(self) -> None:
        samples = [codes.compact(codes.new_code()) for _ in range(4000)]
        assert len(set(samples)) == len(samples)
        for position in range(codes.RANDOM_LENGTH):
            counts = Counter(sample[position] for sample in samples)
            assert set(counts) == set(codes.ALPHABET)
            # 4000 / 31 ≈ 129 per symbol; a biased generator would leave some far behind
            assert min(counts.values()) > 60, (position, counts)

    def test_typed_forms_are_understood(self) -> None:
        code = codes.new_code()
        bare = code.removeprefix("MCD-")
        for typed in (
            code.lower(),
            bare,
            bare.replace("-", " "),
            bare.replace("-", ""),
            f" {code} ",
        ):
            assert codes.normalise(typed) == code, typed


class TestCheckCharacter:
    @given(bodies)
    def test_issued_codes_verify(self, body: str) -> None:
        assert codes.is_well_formed(full(body))

    @given(bodies, st.integers(0, codes.LENGTH - 1), symbols)
    def test_every_single_typo_is_caught(self, body: str, position: int, symbol: str) -> None:
        code = full(body)
        typo = code[:position] + symbol + code[position + 1 :]
        assert codes.is_well_formed(typo) == (typo == code)

    @given(bodies, st.integers(0, codes.LENGTH - 2))
    def test_every_adjacent_swap_is_caught(self, body: str, position: int) -> None:
        code = full(body)
        swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
        assert codes.is_well_formed(swapped) == (swapped == code)

    def test_exhaustively_on_one_code(self) -> None:
        code = codes.compact(codes.new_code())
        for position in range(codes.LENGTH):
            for symbol in codes.ALPHABET.replace(code[position], ""):
                assert not codes.is_well_formed(code[:position] + symbol + code[position + 1 :])

    def test_wrong_length_or_letters_are_refused(self) -> None:
        code = codes.compact(codes.new_code())
        for wrong in (code[:-1], code + "2", code[:-1] + "O", ""):
            assert codes.normalise(wrong) is None

    def test_a_body_that_starts_with_mcd_is_not_taken_for_the_prefix(self) -> None:
        body = "MCD" + "7K3Q9XJ2H4RT"
        code = codes.display(full(body))
        assert code.startswith("MCD-MCD7-")
        bare = code.removeprefix("MCD-")
        for typed in (code, bare, bare.replace("-", ""), bare.lower(), code.replace("-", "")):
            assert codes.normalise(typed) == code, typed

    def test_the_prefix_is_only_dropped_in_front(self) -> None:
        code = codes.new_code()
        compact = codes.compact(code)
        assert codes.normalise(compact + "MCD") is None
        assert codes.normalise("MC" + compact) is None

    def test_a_known_code(self) -> None:
        """The check character pinned on one body, worked out by hand: the weights 1..15
        times the values 0..14 of 2..9, A..H sum to 1,120 ≡ 4 (mod 31), and with the weight
        16 of the check character 4 + 16 × 23 = 372 = 12 × 31: the symbol of value 23."""
        body = codes.ALPHABET[:15]
        assert codes.check_character(body) == codes.ALPHABET[23] == "S"
        assert codes.normalise(body.lower() + "s") == "MCD-2345-6789-ABCD-EFGS"
        assert codes.check_character("3") == "H"  # 1 × 1 + 2 × 15 = 31

    def test_zeros_of_the_wrong_length_are_refused(self) -> None:
        """A run of '2' (value 0) sums to 0 whatever its length: only the length check
        refuses 15 or 17 of them."""
        assert codes.is_well_formed("2" * 16)
        for wrong in ("2" * 15, "2" * 17):
            assert not codes.is_well_formed(wrong)
            assert codes.normalise(wrong) is None
