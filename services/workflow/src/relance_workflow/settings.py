from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "workflow"
    http_port: int = 8300
    # transfer_window_seconds, transfer_agency_answer_delay_seconds: in CommonSettings
    # (F-28, F-30), shared with the dossier API.
