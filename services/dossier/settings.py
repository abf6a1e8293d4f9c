from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "dossier"
    http_port: int = 8000
    http_host: str = "127.0.0.1"
    migrate_on_start: bool = True
