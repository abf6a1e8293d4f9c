"""The email channel against a relay that demands STARTTLS and authentication, as a
company's SMTP relay does (F-32: "STARTTLS and auth by settings"): a real local SMTP server
with a self-signed certificate the test trusts."""

import datetime as dt
import ipaddress
import ssl
from uuid import uuid4

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from relance_devstack.embedded import free_port
from relance_notifier.channels.base import OutgoingMessage, TransientSendError
from relance_notifier.channels.email import EmailChannel
from relance_notifier.settings import Settings

USER, PASSWORD = "relance", "s3cret"


def _self_signed(directory) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "relay.pem", directory / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class _Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[bool, list[str], bool]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.received.append((session.authenticated, envelope.rcpt_tos, session.ssl is not None))
        return "250 Message accepted"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def relay(tmp_path, monkeypatch):
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # the client trusts this relay's certificate
    inbox, port = _Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=_authenticate, auth_require_tls=True)
    controller.start()
    yield inbox, port
    controller.stop()


def _message() -> OutgoingMessage:
    return OutgoingMessage(communication_id=uuid4(), recipient="compta@client.example",
                           subject="Relance", body="Bonjour")


async def test_f32_email_goes_through_a_relay_requiring_starttls_and_login(relay) -> None:
    inbox, port = relay
    channel = EmailChannel(Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True,
                                    smtp_username=USER, smtp_password=PASSWORD, email_rate_per_second=0))
    await channel.send(_message())
    assert inbox.received == [(True, ["compta@client.example"], True)]  # logged in, over TLS


async def test_f32_wrong_credentials_or_no_starttls_send_nothing_and_are_retried_later(relay) -> None:
    inbox, port = relay
    wrong = EmailChannel(Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True,
                                  smtp_username=USER, smtp_password="nope", email_rate_per_second=0))
    with pytest.raises(TransientSendError):  # our own configuration: fix it, then it goes
        await wrong.send(_message())
    plain = EmailChannel(Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                                  email_rate_per_second=0))
    with pytest.raises(TransientSendError):
        await plain.send(_message())
    assert inbox.received == []


async def test_f32_messages_share_one_connection_upgraded_and_logged_in_once(relay) -> None:
    inbox, port = relay
    channel = EmailChannel(Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True,
                                    smtp_username=USER, smtp_password=PASSWORD, email_rate_per_second=0))
    for _ in range(3):
        await channel.send(_message())
    await channel.aclose()
    assert inbox.received == [(True, ["compta@client.example"], True)] * 3
    assert channel.pool.opened == 1  # one STARTTLS and one login for the three
