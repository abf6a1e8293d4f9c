"""One rule per kind of value (relance.validation): codes, e-mail addresses, phone numbers."""

import pytest
from pydantic import BaseModel, ValidationError

from relance.validation import (
    EmailAddress,
    InvalidPhoneNumber,
    is_code,
    is_email_address,
    is_phone_number,
    to_e164,
)


@pytest.mark.parametrize("code", ["C-ACME", "c.001", "A_B", "x" * 100])
def test_codes_are_letters_digits_dots_underscores_and_dashes(code: str) -> None:
    assert is_code(code)


@pytest.mark.parametrize("code", ["", "a b", "é", "x" * 101, "C/1", "C-1\n"])
def test_other_codes_are_refused(code: str) -> None:
    assert not is_code(code)


@pytest.mark.parametrize("address", ["compta@acme.fr", "j.dupont+relance@acme.test", "a@b.example"])
def test_well_formed_addresses_pass(address: str) -> None:
    assert is_email_address(address)


@pytest.mark.parametrize(
    "address",
    [None, "", "compta.acme.fr", "compta@acme", "a b@acme.fr", "Jean <j@acme.fr>", "j@acme.fr, k@acme.fr",
     "j@acme.fr\nBcc: k@acme.fr", "j@@acme.fr"],
)
def test_malformed_addresses_and_header_injections_are_refused(address: str | None) -> None:
    assert not is_email_address(address)


def test_an_email_field_normalises_the_domain_and_names_bad_input() -> None:
    class Model(BaseModel):
        email: EmailAddress | None = None

    assert Model(email="Compta@ACME.fr").email == "Compta@acme.fr"
    with pytest.raises(ValidationError, match="not a valid email address"):
        Model(email="compta@acme")


@pytest.mark.parametrize(
    ("written", "e164"),
    [("06 12 34 56 78", "+33612345678"), ("+33 6 12-34.56 78", "+33612345678"),
     ("0033 (6) 12.34.56.78", "+33612345678"), ("04 72 00 00 00", "+33472000000"),
     ("+44 20 7946 0958", "+442079460958")],
)
def test_phone_numbers_are_written_in_e164(written: str, e164: str) -> None:
    assert to_e164(written) == e164
    assert is_phone_number(written)


@pytest.mark.parametrize("written", ["12", "call me", "(01) 23-45-67", "+33 0 12 34 56 78", ""])
def test_what_is_no_phone_number_is_refused(written: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        to_e164(written)


def test_a_number_without_country_code_is_read_in_the_given_region() -> None:
    assert to_e164("020 7946 0958", "GB") == "+442079460958"
