from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "transfer-gateway"
    http_port: int = 8100
