"""Integration fixtures: the platform, the SMTP inbox, the SMS provider and the API client
are session fixtures of tests/conftest.py (the console tests use them too); the helpers
are imported from here by the integration tests."""

from tests.conftest import (  # noqa: F401 - re-exported for the integration tests
    ADMIN_TOKEN,
    GATEWAY_TEST_ENV,
    SMS_CALLBACK_TOKEN,
    SMS_PROVIDER_TOKEN,
    FakeSmsProvider,
    SmtpInbox,
    eventually,
)
