from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "transfer-gateway"
    http_port: int = 8100
    http_host: str = "127.0.0.1"
