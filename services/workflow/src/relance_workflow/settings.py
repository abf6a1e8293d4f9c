from pydantic import Field

from relance.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "workflow"
    http_port: int = 8300
    # transfer_window_seconds, transfer_agency_answer_delay_seconds: in CommonSettings
    # (F-28, F-30), shared with the dossier API.
    # F-37: a missed instalment of a payment plan is checked again this many days later;
    # still missed, the plan is broken (its items back in the scenario, a call for the
    # collector). Read by the bridge when it starts a plan's workflow.
    payment_plan_grace_days: float = Field(default=5, ge=0)
    # The signal bridge: events fetched from Kafka at once, and how many clients' events are
    # handed to Temporal at once (each client's in order: relance.lanes).
    bridge_batch_size: int = Field(default=200, ge=1)
    bridge_concurrency: int = Field(default=32, ge=1)
    # Workflows kept in the worker's sticky cache (Temporal's default, 1000). One that is not
    # cached is rebuilt in the sandbox and replayed when its timer fires. Measured on the
    # embedded server, 3,000 transfer windows ending together: cache 1,000 → lag p99 70 s,
    # worker 290 MiB; 5,000 (all cached) → p99 57 s, 560 MiB (about 90 KiB a workflow).
    workflow_cache_size: int = Field(default=1000, ge=0)
    # Workflow-task polls the worker keeps open at once, and the share of them on the task
    # queue itself rather than on the worker's sticky queue; Temporal's defaults (5 and 0.2)
    # leave one poll there. Every first task of a workflow, and every task of one that fell
    # out of the cache, comes through those polls. A trade, measured on the embedded server:
    # 15,000 windows open and 5,000 ending together (bare timer, then a no-op activity):
    # defaults → lag p99 161 s and 185 s; 6 and 0.5 → 130 s; 10 and 0.5 → 72 s; 20 and 0.5
    # → 80 s. But the dossiers' bench (300 starting at once) with 10 and 0.5: starts 0.75
    # of the empty workflow's, longest workflow task 0.89-0.99 s, against 1.00 and 0.59 s
    # with the defaults (more tasks taken at once wait in the one worker process). The
    # defaults stay; a deployment where thousands of windows end together raises them (the
    # scale run does: bench/scale.py MASS_WINDOW_POLLS).
    workflow_task_pollers: int = Field(default=5, ge=2)
    workflow_nonsticky_poll_ratio: float = Field(default=0.2, gt=0, le=1)
