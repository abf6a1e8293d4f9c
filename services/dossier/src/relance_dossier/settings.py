from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "dossier"
    http_port: int = 8000
    migrate_on_start: bool = True
    # Scenario steps fall due at this local hour of their due day (F-9), planned by this
    # service's activities.
    business_timezone: str = "Europe/Paris"
    business_hour: int = 8
    # ...on a working day (ISO weekdays, Monday = 1): a step that would fall on another day
    # moves to the next working day, for due-date and previous-step delays alike.
    business_days: list[int] = Field(default=[1, 2, 3, 4, 5], min_length=1)

    @field_validator("business_days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if any(d not in range(1, 8) for d in days):
            raise ValueError("business_days are ISO weekdays, 1 (Monday) to 7 (Sunday)")
        return sorted(set(days))
    # F-38: late fees and interest (French B2B law), the defaults a segment's or a client's
    # policy overrides: the annual interest rate (the ECB main refinancing rate, 2.15 %,
    # plus 10 points), the fixed recovery indemnity per late invoice and the currencies
    # whose invoices get it (as that amount in the item's currency).
    late_fees_enabled: bool = True
    late_interest_rate: Decimal = Field(default=Decimal("0.1215"), ge=0, le=1)
    recovery_indemnity_amount: Decimal = Field(default=Decimal("40.00"), ge=0)
    recovery_indemnity_currencies: list[str] = ["EUR"]
    # F-38: whether fees are charged by themselves where no segment or client policy says
    # (auto_charge), and the day of the month the late-fee run charges them, at the
    # business hour, up to that day (1 to 28: a day every month has).
    late_fees_auto_charge: bool = False
    late_fee_run_day: int = Field(default=1, ge=1, le=28)
    # F-36 at scale: the dashboard's figures are kept per filter set until a change; then
    # the kept ones are served (flagged) for at most this long while the refresher, which
    # looks for stale ones this often, recomputes them (those read in the last 15 minutes:
    # someone has the dashboard open; the others are computed when next asked for); kept
    # figures unread for the days given are dropped.
    kpi_max_stale_seconds: float = Field(default=120.0, ge=0)
    kpi_refresh_seconds: float = Field(default=5.0, gt=0)
    kpi_refresh_read_within_seconds: float = Field(default=900.0, gt=0)
    kpi_snapshot_keep_days: int = Field(default=7, ge=1)
    # F-39: the locale of the template used when neither the contact's language nor the
    # client's locale has a version of it.
    template_fallback_locale: str = "fr"
    # The first admin's API token; further users are created through the API.
    bootstrap_admin_token: str | None = None
    # F-31: the transfer gateway owns the agencies registry; a transfer's agency is asked
    # of its internal API (GET /internal/agencies/{code}).
    gateway_api_url: str = "http://127.0.0.1:8100"
    gateway_api_timeout_seconds: float = 5.0
    # F-31: how long the gateway's "this agency is registered and active" is taken as
    # true (a burst of transfers asks once, not once each); a deactivation then holds for
    # new transfers within this delay. 0 asks the gateway for every transfer.
    agency_registry_cache_seconds: float = Field(default=5.0, ge=0)
    # The trace's consumer of communication.events (F-23): how long a stopping consumer
    # waits for the event in hand (retries: CONSUMER_MAX_ATTEMPTS and its backoff).
    shutdown_grace_seconds: float = 10.0
    # F-4, seeds 001 and 004: which clients a collector may open. `all` (the seeds: any
    # collector opens any client card and reads its note pad), `team` (the clients of the
    # collectors of their team) or `own` (only their own). Lists and agendas show a
    # collector's own clients by default (`mine`) in every scope; opening another
    # collector's client is written to the audit trail.
    client_visibility: Literal["own", "team", "all"] = "all"
    # F-35: how long a session opened by signing in with a password lasts.
    session_hours: float = 12.0
    # F-3, issue 10: an import upload larger than this is refused with 413; uploads are
    # streamed to DATA_DIR/uploads, never held in memory.
    import_max_bytes: int = 1024 * 1024 * 1024
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
