"""Account input rules as pure functions: password complexity (R-11) and email syntax (R-10, R-208)."""

import string

import pytest
from django.core.exceptions import ValidationError
from hypothesis import example, given
from hypothesis import strategies as st

from accounts import policies
from accounts.exceptions import InvalidEmail, PasswordNotComplexEnough

TOO_SHORT = "needs at least 8 characters"
NO_UPPER = "needs an uppercase letter"
NO_LOWER = "needs a lowercase letter"
NO_DIGIT = "needs a digit"
NO_SYMBOL = "needs a character that is not a letter or a digit"


# --- password complexity, in order, first failure only ---------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("aA1!aA1", TOO_SHORT),  # 7 characters, every class present
        ("abcdef1!", NO_UPPER),
        ("ABCDEF1!", NO_LOWER),
        ("Abcdefg!", NO_DIGIT),
        ("Abcdefg1", NO_SYMBOL),
    ],
)
def test_r11_each_missing_element_is_named(password, reason):
    assert policies.password_weakness(password) == reason


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("", TOO_SHORT),
        ("a", TOO_SHORT),  # also misses upper, digit, symbol: only length is reported
        ("abcdefgh", NO_UPPER),  # misses upper, digit and symbol: upper comes first
        ("ABCDEFGH", NO_LOWER),  # misses lower, digit and symbol
        ("ABCDefgh", NO_DIGIT),  # misses digit and symbol
        ("12345678", NO_UPPER),
        ("!!!!!!!!", NO_UPPER),
    ],
)
def test_r11_only_the_first_failing_rule_in_spec_order_is_reported(password, reason):
    assert policies.password_weakness(password) == reason


def test_r11_boundary_exactly_8_characters_is_long_enough():
    assert policies.password_weakness("Abcde1!x") is None
    assert policies.password_weakness("Abcd1!x") == TOO_SHORT


@pytest.mark.parametrize("symbol", [" ", "!", "_", "é", "€", "\t", "ß"])
def test_r11_any_character_that_is_not_an_ascii_letter_or_digit_counts_as_the_symbol(symbol):
    # "a character that is neither an ASCII letter nor a digit (space counts)".
    assert policies.password_weakness(f"Abcdefg1{symbol}") is None


@pytest.mark.parametrize(("password", "reason"), [("ÄBCDEFG1!", NO_LOWER), ("äbcdefg1!", NO_UPPER)])
def test_r11_non_ascii_letters_do_not_count_as_upper_or_lower_case(password, reason):
    # R-11 names the classes A–Z and a–z.
    assert policies.password_weakness(password) == reason


def test_r11_non_ascii_digits_do_not_count_as_a_digit():
    assert policies.password_weakness("Abcdefg!\u0661") == NO_DIGIT  # ARABIC-INDIC DIGIT ONE


def test_r11_length_counts_characters_not_bytes():
    # Seven characters of which several are multi-byte in UTF-8: still too short.
    assert policies.password_weakness("Aé1!€ßx") == TOO_SHORT


def test_r11_ensure_complex_password_raises_with_the_api_details_shape():
    with pytest.raises(PasswordNotComplexEnough) as caught:
        policies.ensure_complex_password("abcdefgh")

    error = caught.value
    assert error.code == "PASSWORD_NOT_COMPLEX_ENOUGH"
    assert error.status == 400
    assert error.details == {"violations": [{"field": "password", "reason": NO_UPPER}]}


def test_r11_ensure_complex_password_accepts_a_strong_password():
    policies.ensure_complex_password("Str0ng!Passw0rd")  # does not raise


def test_r11_back_office_validator_applies_the_same_rules_and_the_128_cap():
    validator = policies.ComplexityValidator()
    validator.validate("A" * 60 + "a" * 60 + "1!" + "x" * 6)  # 128: accepted
    with pytest.raises(ValidationError):
        validator.validate("A" * 60 + "a" * 60 + "1!" + "x" * 7)  # 129
    with pytest.raises(ValidationError, match="needs a digit"):
        validator.validate("Abcdefg!")


ascii_passwords = st.text(alphabet=string.printable + "éß€", max_size=40)


@given(password=ascii_passwords)
@example(password="Abcde1!x")
@example(password="Abcde1!")
def test_r11_property_an_accepted_password_has_every_required_class(password):
    if policies.password_weakness(password) is None:
        assert len(password) >= 8
        assert any(c in string.ascii_uppercase for c in password)
        assert any(c in string.ascii_lowercase for c in password)
        assert any(c in string.digits for c in password)
        assert any(c not in string.ascii_letters + string.digits for c in password)


@given(password=ascii_passwords)
def test_r11_property_the_reason_is_the_first_rule_in_order_that_fails(password):
    checks = [
        (len(password) >= 8, TOO_SHORT),
        (any(c in string.ascii_uppercase for c in password), NO_UPPER),
        (any(c in string.ascii_lowercase for c in password), NO_LOWER),
        (any(c in string.digits for c in password), NO_DIGIT),
        (any(c not in string.ascii_letters + string.digits for c in password), NO_SYMBOL),
    ]
    expected = next((reason for passed, reason in checks if not passed), None)
    assert policies.password_weakness(password) == expected


# --- email ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    ["a@b.io", "Bob.Smith+tag@Example.COM", "x@xn--bcher-kva.example", "first_last@sub.domain.org"],
)
def test_r10_valid_addresses_are_accepted(email):
    assert policies.email_problem(email) is None
    policies.ensure_valid_email(email)  # does not raise


def test_r10_254_characters_is_the_longest_accepted_address():
    local = "a" * 64
    domain = ".".join(["b" * 63, "c" * 63, "d" * 58]) + ".io"  # 63+1+63+1+58+3 = 189
    email = f"{local}@{domain}"
    assert len(email) == 254
    assert policies.email_problem(email) is None
    assert policies.email_problem("a" + email) == "Must be at most 254 characters."


@pytest.mark.parametrize("email", ["bücher@example.com", "a@bücher.de", "ü@b.io", "a@b.io\u00a0x"])
def test_r208_non_ascii_addresses_are_rejected_punycode_required(email):
    assert policies.email_problem(email) == "Must be ASCII; send internationalised domains as punycode."


@pytest.mark.parametrize(
    "email",
    ["plainaddress", "@no-local.io", "no-domain@", "a@b", "a@@b.io", "a b@c.io", "a@b..io", "a@localhost",
     "a@b.io,c@d.io", "a@-b.io"],
)
def test_r10_bad_syntax_is_rejected(email):
    assert policies.email_problem(email) == "Must be a valid email address."


def test_r10_empty_email_is_rejected():
    assert policies.email_problem("") == "Must not be empty."


def test_r10_ensure_valid_email_raises_a_validation_error_naming_the_email_field():
    with pytest.raises(InvalidEmail) as caught:
        policies.ensure_valid_email("not-an-email")

    assert caught.value.code == "VALIDATION_ERROR"
    assert caught.value.status == 400
    assert caught.value.details == {"violations": [{"field": "email", "reason": "Must be a valid email address."}]}


@given(local=st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=64))
def test_r10_property_length_limit_is_checked_on_the_whole_address(local):
    email = f"{local}@example.com"
    padded = "x" * (255 - len(email)) + email
    assert policies.email_problem(email) is None
    assert policies.email_problem(padded) == "Must be at most 254 characters."
