from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "dossier"
    http_port: int = 8000
    migrate_on_start: bool = True
    # The first admin's API token; further users are created through the API.
    bootstrap_admin_token: str | None = None
    # F-35: how long a session opened by signing in with a password lasts.
    session_hours: float = 12.0
    # F-26: files attached to a client are stored under DATA_DIR/attachments/<client id>/.
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_content_types: list[str] = [
        "application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "message/rfc822",
    ]
