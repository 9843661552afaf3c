"""Property tests of the duplicate-name key (service/polls/naming.py)."""

from __future__ import annotations

import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from service.polls.naming import display_name, name_key

ASCII_PRINTABLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
WORD_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789晨光冷萃山泉咖啡茶")
# Z* and P* only: symbols (S*, e.g. ～ + ★) are part of a name and stay.
SEPARATORS = st.sampled_from(" \t\n\u3000\u00a0.,!?-_()[]\"'、。，！？「」『』・…—：；")


def full_width(text: str) -> str:
    """ASCII to its full-width forms (U+FF01..U+FF5E), the space to the ideographic space."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@given(st.text(max_size=40))
@example("e,\u0301")  # removing the comma lets NFKC compose é
@example("ﬁ")
def test_the_key_of_a_key_is_itself(text):
    assert name_key(name_key(text)) == name_key(text)


@given(st.text(max_size=40))
def test_the_key_holds_no_space_punctuation_or_control_characters(text):
    for char in name_key(text):
        category = unicodedata.category(char)
        assert category[0] not in "PZ" and category not in ("Cc", "Cf"), (char, category)


@given(st.text(alphabet=ASCII_PRINTABLE | st.just(" "), max_size=30))
@example("ABC")
def test_full_width_and_half_width_forms_are_the_same_name(text):
    assert name_key(full_width(text)) == name_key(text)


@given(st.text(alphabet=ASCII_PRINTABLE, max_size=30))
def test_case_does_not_matter(text):
    assert name_key(text.upper()) == name_key(text.lower()) == name_key(text.swapcase())


@given(st.lists(st.tuples(st.text(WORD_CHARS, min_size=1, max_size=4), st.text(SEPARATORS, max_size=3)), max_size=6))
def test_spaces_and_punctuation_between_words_do_not_matter(parts):
    plain = "".join(word for word, _ in parts)
    spaced = "".join(word + gap for word, gap in parts)
    assert name_key(spaced) == name_key(plain)


@given(st.text(SEPARATORS, max_size=10))
def test_a_name_of_only_spacing_and_punctuation_has_an_empty_key(text):
    assert name_key(text) == ""


@given(st.text(max_size=40))
def test_the_display_name_is_trimmed_with_single_spaces(text):
    shown = display_name(text)
    assert shown == shown.strip() and "  " not in shown
    assert display_name(shown) == shown
