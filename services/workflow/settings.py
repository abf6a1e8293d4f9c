from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "workflow"
    http_port: int = 8300
    # Scenario steps fall due at this local hour of their due day (F-9).
    business_timezone: str = "Europe/Paris"
    business_hour: int = 8
