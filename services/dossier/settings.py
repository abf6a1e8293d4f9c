from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "dossier"
    http_port: int = 8000
    migrate_on_start: bool = True
    # The first admin's API token; further users are created through the API.
    bootstrap_admin_token: str | None = None
