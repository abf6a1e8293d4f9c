"""The console's settings (environment variables or `.env`)."""

import secrets

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    service_name: str = "console"
    # The APIs the console calls with the signed-in user's own token (F-35).
    dossier_api_url: str = "http://127.0.0.1:8000"
    gateway_api_url: str = "http://127.0.0.1:8100"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Encrypts and signs the session cookie. Without it, a random one per process: sessions
    # end when the console restarts.
    session_secret: str = secrets.token_urlsafe(32)
    session_hours: float = 12.0
    # Behind TLS, the session cookie is sent over HTTPS only.
    cookie_secure: bool = False
    default_locale: str = "fr"
    timezone: str = "Europe/Paris"
    page_size: int = 25
    api_timeout_seconds: float = 30.0
    log_level: str = "INFO"
    log_json: bool = False
