"""One rule for each kind of value that several places check.

- Codes that people type and other systems send (client, collector, scenario and agency
  codes; the dossier's API and the ERP import): letters, digits, '.', '_' and '-'.
- E-mail addresses: email-validator's syntax check (no DNS look-up), for contact channels,
  users and collectors, and the colleague of an internal email.
- Phone numbers: read by phonenumbers (a number without a country code is read in
  `DEFAULT_PHONE_REGION`) and written in E.164 ("+33612345678")."""

import re
from typing import Annotated

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator

# ---- codes ----------------------------------------------------------------------------

CODE_MAX_LENGTH = 100
CODE_PATTERN = r"^[A-Za-z0-9._\-]+$"  # for pydantic's Field(pattern=...), with the length
CODE_RULE = "may contain only letters, digits, '.', '_' and '-'"
_CODE = re.compile(rf"[A-Za-z0-9._\-]{{1,{CODE_MAX_LENGTH}}}")


def is_code(value: str) -> bool:
    """1 to 100 letters, digits, '.', '_' or '-'."""
    return _CODE.fullmatch(value) is not None


# ---- e-mail addresses -----------------------------------------------------------------


def email_address_problem(value: str | None) -> str | None:
    """None for a well-formed address, else what is wrong with it. Deliverability is not
    checked (no DNS at validation time); the reserved `.test` domain is accepted, for
    demos and tests."""
    if not value:
        return "an email address is required"
    try:
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def is_email_address(value: str | None) -> bool:
    return email_address_problem(value) is None


def normalized_email_address(value: str) -> str:
    """The address as email-validator normalizes it (the domain in lower case); ValueError
    when it is not an address."""
    try:
        return validate_email(value, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None


# A pydantic field type: `email: EmailAddress | None = None`.
EmailAddress = Annotated[str, AfterValidator(normalized_email_address)]


# ---- phone numbers --------------------------------------------------------------------

DEFAULT_PHONE_REGION = "FR"


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """"06 12 34 56 78", "+33 6 12-34.56 78" or "0033 (6) 12.34.56.78" → "+33612345678";
    InvalidPhoneNumber when it is not a valid number."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"invalid phone number {value!r}: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"invalid phone number {value!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_phone_number(value: str, region: str = DEFAULT_PHONE_REGION) -> bool:
    try:
        to_e164(value, region)
    except InvalidPhoneNumber:
        return False
    return True
