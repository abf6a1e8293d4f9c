from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "workflow"
    http_port: int = 8300
    # Scenario steps fall due at this local hour of their due day (F-9).
    business_timezone: str = "Europe/Paris"
    business_hour: int = 8
    # F-28: a transfer can be cancelled at once within this window (24 h; shorter for demos).
    transfer_window_seconds: float = 86400
    # F-30: an agency that has not answered a cancellation request after this is overdue.
    transfer_agency_answer_delay_seconds: float = 5 * 86400
