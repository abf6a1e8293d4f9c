from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "dossier"
    http_port: int = 8000
    migrate_on_start: bool = True
