"""Writes the Grafana dashboards of deploy/grafana/dashboards/ (one per service plus the
business one) from the descriptions below, so that every panel is built the same way.

    python deploy/grafana/build.py      # after editing this file; commit both

tests/deploy/test_grafana_dashboards.py fails when the JSON files differ from what this
writes. Standard library only. Every panel reads the `datasource` template variable; each
service dashboard filters on its scrape job (`relance-<service>`, see
deploy/prometheus/prometheus.yml and kubernetes.yml) and an `instance` variable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"


# ---------------------------------------------------------------------------- building blocks


def _target(expr: str, legend: str, ref: str) -> dict:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}


def timeseries(title, description, targets, unit="short", w=12, h=8, stack=False):
    return {
        "type": "timeseries", "title": title, "description": description, "w": w, "h": h,
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": {
                    "drawStyle": "line", "lineWidth": 1, "fillOpacity": 25 if stack else 10,
                    "showPoints": "never",
                    "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                },
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(title, description, expr, unit="short", w=6, h=4, red_above=None, green_from=None, legend=""):
    if green_from is not None:
        steps = [{"color": "red", "value": None}, {"color": "green", "value": green_from}]
    else:
        steps = [{"color": "green", "value": None}]
    if red_above is not None:
        steps.append({"color": "red", "value": red_above})
    return {
        "type": "stat", "title": title, "description": description, "w": w, "h": h,
        "targets": [(expr, legend)],
        "fieldConfig": {
            "defaults": {
                "unit": unit, "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute", "steps": steps},
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value", "graphMode": "area", "textMode": "auto",
        },
    }


def row(title):
    return {"type": "row", "title": title}


def datasource_variable() -> dict:
    return {
        "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
        "current": {"text": "Prometheus", "value": "prometheus"}, "hide": 0, "refresh": 1,
        "regex": "", "options": [],
    }


def query_variable(name, label, query, multi=True) -> dict:
    return {
        "name": name, "label": label, "type": "query", "datasource": DS,
        "definition": query, "query": {"query": query, "refId": f"{name}-query"},
        "refresh": 2, "sort": 1, "multi": multi, "includeAll": True, "allValue": ".*",
        "current": {"text": "All", "value": "$__all"}, "hide": 0, "regex": "", "options": [],
    }


def dashboard(uid, title, description, panels, variables) -> dict:
    laid_out = []
    x = y = row_height = 0
    for number, panel in enumerate(panels, start=1):
        panel = dict(panel)
        if panel["type"] == "row":
            if x:
                y += row_height
            x, row_height = 0, 0
            laid_out.append({
                "id": number, "type": "row", "title": panel["title"], "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": [],
            })
            y += 1
            continue
        w, h = panel.pop("w"), panel.pop("h")
        if x + w > 24:
            x, y, row_height = 0, y + row_height, 0
        refs = "ABCDEFGH"
        targets = [_target(expr, legend, refs[i]) for i, (expr, legend) in enumerate(panel.pop("targets"))]
        laid_out.append({
            "id": number, "type": panel.pop("type"), "title": panel.pop("title"),
            "description": panel.pop("description"), "datasource": DS,
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": targets, **panel,
        })
        x += w
        row_height = max(row_height, h)
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["relance"], "timezone": "browser", "editable": False, "graphTooltip": 1,
        "refresh": "30s", "schemaVersion": 39, "version": 1,
        "time": {"from": "now-6h", "to": "now"}, "timepicker": {},
        "templating": {"list": [datasource_variable(), *variables]},
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard",
        }]},
        "links": [{
            "title": "Relance dashboards", "type": "dashboards", "tags": ["relance"],
            "asDropdown": True, "includeVars": False, "keepTime": True,
        }],
        "panels": laid_out,
    }


# ---------------------------------------------------------------------------- shared rows


def process_row(job: str) -> list:
    sel = f'job="{job}", instance=~"$instance"'
    return [
        row("Process"),
        stat("Up", "Instances answering Prometheus scrapes.", f"sum(up{{{sel}}})", green_from=1),
        stat("Restarts (1h)", "Process starts in the last hour, all instances.",
             f"sum(changes(process_start_time_seconds{{{sel}}}[1h]))", red_above=1),
        stat("Uptime", "Time since the youngest instance started.",
             f"time() - max(process_start_time_seconds{{{sel}}})", unit="s"),
        stat("Resident memory", "Largest resident memory among the instances.",
             f"max(process_resident_memory_bytes{{{sel}}})", unit="bytes"),
        timeseries("CPU", "CPU seconds used per second, by instance.",
                   [(f"rate(process_cpu_seconds_total{{{sel}}}[{RATE}])", "{{instance}}")],
                   unit="percentunit"),
        timeseries("Memory", "Resident memory by instance.",
                   [(f"process_resident_memory_bytes{{{sel}}}", "{{instance}}")], unit="bytes"),
    ]


def http_row(job: str) -> list:
    sel = f'job="{job}", instance=~"$instance", route=~"$route"'
    return [
        row("HTTP"),
        timeseries("Requests by route", "Requests per second, by route and method.",
                   [(f"sum by (method, route) (rate(http_requests_total{{{sel}}}[{RATE}]))",
                     "{{method}} {{route}}")], unit="reqps"),
        timeseries("Errors by route", "5xx and 4xx answers per second, by route and status.",
                   [(f'sum by (route, status) (rate(http_requests_total{{{sel}, status=~"5.."}}[{RATE}]))',
                     "{{status}} {{route}}"),
                    (f'sum by (route, status) (rate(http_requests_total{{{sel}, status=~"4.."}}[{RATE}]))',
                     "{{status}} {{route}}")], unit="reqps"),
        timeseries("Latency", "Request duration quantiles, every selected route.",
                   [(f"histogram_quantile({q}, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[{RATE}])))",
                     f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)], unit="s"),
        timeseries("p95 latency by route", "95th percentile request duration, by route.",
                   [(f"histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{{{sel}}}[{RATE}])))",
                     "{{route}}")], unit="s"),
    ]


def consumer_lag_panel(group: str, w=12) -> dict:
    return timeseries(
        f"Consumer lag ({group})",
        f"Messages the {group} consumer group has not consumed yet, by topic (Kafka exporter).",
        [(f'sum by (topic) (kafka_consumergroup_lag{{consumergroup="{group}"}})', "{{topic}}")], w=w,
    )


def instance_variable(job: str) -> dict:
    return query_variable("instance", "Instance", f'label_values(up{{job="{job}"}}, instance)')


def route_variable(job: str) -> dict:
    return query_variable("route", "Route", f'label_values(http_requests_total{{job="{job}"}}, route)')


# ---------------------------------------------------------------------------- dashboards


def dossier() -> dict:
    job = "relance-dossier"
    sel = f'job="{job}", instance=~"$instance"'
    return dashboard(
        "relance-dossier", "Relance dossier service",
        "The dossier API: requests, errors and latency by route; the transfers it owns; the "
        "scenario steps and interventions its worker's activities open and close.",
        [
            *http_row(job),
            row("Communication trace"),
            timeseries("Trace events applied", "communication.events applied to the clients' traces per second, by type and outcome (F-23).",
                       [(f"sum by (event_type, outcome) (rate(relance_dossier_communication_events_total{{{sel}}}[{RATE}]))",
                         "{{event_type}} {{outcome}}")], unit="ops", stack=True),
            consumer_lag_panel("dossier-communications"),
            row("ERP events"),
            timeseries("ERP events applied", "erp.events applied through the import path per second, by type and outcome; refused ones are dead letters (F-42).",
                       [(f"sum by (event_type, outcome) (rate(relance_dossier_erp_events_total{{{sel}}}[{RATE}]))",
                         "{{event_type}} {{outcome}}")], unit="ops", stack=True),
            consumer_lag_panel("dossier-erp"),
            row("KPI dashboards"),
            timeseries("KPI dashboards refreshed", "Dashboards the refresher recomputed per minute after a change made their kept figures stale (F-36).",
                       [(f"sum(rate(relance_kpi_refreshes_total{{{sel}}}[{RATE}])) * 60", "refreshed")]),
            row("Scenario steps"),
            timeseries("Scenario steps due", "Steps that fell due and opened their intervention, per hour, by action and mode.",
                       [(f"sum by (action_type, mode) (increase(relance_scenario_steps_due_total{{{sel}}}[1h]))",
                         "{{action_type}} {{mode}}")], stack=True),
            timeseries("Interventions closed", "Interventions closed per hour, by origin and status.",
                       [(f"sum by (origin, status) (increase(relance_interventions_closed_total{{{sel}}}[1h]))",
                         "{{origin}} {{status}}")], stack=True),
            row("Transfers"),
            timeseries("Open transfers by state", "Transfers not closed, by state (F-27..F-30).",
                       [("max by (state) (relance_transfers_open)", "{{state}}")], stack=True),
            timeseries("Overdue agency answers", "Cancellation requests unanswered past the delay, by agency (F-30).",
                       [("max by (agency) (relance_transfers_agency_answer_overdue)", "{{agency}}")]),
            *process_row(job),
        ],
        [instance_variable(job), route_variable(job)],
    )


def workflow() -> dict:
    job = "relance-workflow"
    sel = f'job="{job}", instance=~"$instance"'
    return dashboard(
        "relance-workflow", "Relance workflow worker",
        "The Temporal worker of the workflows: workflow and activity health (Temporal SDK "
        "metrics), and the Kafka signal bridge.",
        [
            row("Temporal SDK"),
            timeseries("Workflows completed and failed", "Workflow executions closed per second, by workflow type.",
                       [(f"sum by (workflow_type) (rate(temporal_workflow_completed_total{{{sel}}}[{RATE}]))",
                         "completed {{workflow_type}}"),
                        (f"sum by (workflow_type) (rate(temporal_workflow_failed_total{{{sel}}}[{RATE}]))",
                         "failed {{workflow_type}}")], unit="ops"),
            timeseries("Task failures", "Workflow task and activity execution failures per second.",
                       [(f"sum by (workflow_type) (rate(temporal_workflow_task_execution_failed_total{{{sel}}}[{RATE}]))",
                         "workflow task {{workflow_type}}"),
                        (f"sum by (activity_type) (rate(temporal_activity_execution_failed_total{{{sel}}}[{RATE}]))",
                         "activity {{activity_type}}")], unit="ops"),
            timeseries("Schedule-to-start latency (p95)",
                       "Time tasks wait on the task queue before a worker picks them: high means too few workers.",
                       [(f"histogram_quantile(0.95, sum by (le) (rate(temporal_workflow_task_schedule_to_start_latency_seconds_bucket{{{sel}}}[{RATE}])))",
                         "workflow tasks"),
                        (f"histogram_quantile(0.95, sum by (le) (rate(temporal_activity_schedule_to_start_latency_seconds_bucket{{{sel}}}[{RATE}])))",
                         "activities")], unit="s"),
            timeseries("Activity execution latency (p95)", "95th percentile activity duration, by activity type.",
                       [(f"histogram_quantile(0.95, sum by (le, activity_type) (rate(temporal_activity_execution_latency_seconds_bucket{{{sel}}}[{RATE}])))",
                         "{{activity_type}}")], unit="s"),
            timeseries("Free task slots", "Task slots available, by worker type: zero means the worker is saturated.",
                       [(f"sum by (worker_type) (temporal_worker_task_slots_available{{{sel}}})", "{{worker_type}}")]),
            timeseries("Temporal client request failures", "Failed gRPC calls to the Temporal server, by operation.",
                       [(f"sum by (operation) (rate(temporal_request_failure_total{{{sel}}}[{RATE}]))", "{{operation}}")],
                       unit="ops"),
            row("Signal bridge"),
            consumer_lag_panel("workflow-bridge", w=24),
            *process_row(job),
        ],
        [instance_variable(job)],
    )


def notifier() -> dict:
    job = "relance-notifier"
    sel = f'job="{job}", instance=~"$instance"'
    ch = f'{sel}, channel=~"$channel"'
    return dashboard(
        "relance-notifier", "Relance notifier",
        "Communications by channel and outcome, channel send attempts and duration, skipped "
        "and failed messages, SMS delivery reports.",
        [
            row("Communications"),
            timeseries("Communications by channel and outcome", "Communications finished per second (sent, failed, needs_attention).",
                       [(f"sum by (channel, status) (rate(relance_notifier_communications_total{{{ch}}}[{RATE}]))",
                         "{{channel}} {{status}}")], unit="ops", stack=True),
            timeseries("Send attempts by outcome", "Channel send attempts per second (ok, transient, permanent).",
                       [(f"sum by (channel, outcome) (rate(relance_notifier_send_attempts_total{{{ch}}}[{RATE}]))",
                         "{{channel}} {{outcome}}")], unit="ops"),
            timeseries("Send duration (p95)", "Time to hand one message to its channel, by channel.",
                       [(f"histogram_quantile(0.95, sum by (le, channel) (rate(relance_notifier_send_seconds_bucket{{{ch}}}[{RATE}])))",
                         "{{channel}}")], unit="s"),
            timeseries("Mean send duration", "Average time to hand one message to its channel.",
                       [(f"sum by (channel) (rate(relance_notifier_send_seconds_sum{{{ch}}}[{RATE}])) "
                         f"/ sum by (channel) (rate(relance_notifier_send_seconds_count{{{ch}}}[{RATE}]))",
                         "{{channel}}")], unit="s"),
            row("Messages"),
            timeseries("Skipped messages", "Messages acknowledged without effect, by reason.",
                       [(f"sum by (reason) (rate(relance_notifier_commands_skipped_total{{{sel}}}[{RATE}]))", "{{reason}}")],
                       unit="ops", w=8),
            timeseries("Handler failures", "Messages left unacknowledged after an error (redelivered).",
                       [(f"sum(rate(relance_notifier_handler_failures_total{{{sel}}}[{RATE}]))", "failures")],
                       unit="ops", w=8),
            timeseries("SMS delivery reports", "Provider delivery reports per second, by outcome.",
                       [(f"sum by (outcome) (rate(relance_notifier_delivery_reports_total{{{sel}}}[{RATE}]))", "{{outcome}}")],
                       unit="ops", w=8),
            consumer_lag_panel("notifier", w=24),
            *http_row(job),
            *process_row(job),
        ],
        [instance_variable(job), query_variable(
            "channel", "Channel", f'label_values(relance_notifier_communications_total{{job="{job}"}}, channel)'
        ), route_variable(job)],
    )


def gateway() -> dict:
    job = "relance-transfer-gateway"
    sel = f'job="{job}", instance=~"$instance"'
    return dashboard(
        "relance-transfer-gateway", "Relance transfer gateway",
        "The agencies' API: inbound requests by endpoint and outcome, webhooks out, dead "
        "letters, placements, transfer events consumed.",
        [
            row("Agency API"),
            timeseries("Inbound requests by outcome", "Agency API requests per second, by endpoint and outcome.",
                       [(f"sum by (endpoint, outcome) (rate(relance_gateway_inbound_requests_total{{{sel}}}[{RATE}]))",
                         "{{endpoint}} {{outcome}}")], unit="reqps"),
            timeseries("Placements by status", "Placements with agencies, by status.",
                       [(f"max by (status) (relance_gateway_placements{{{sel}}})", "{{status}}")], stack=True),
            row("Webhooks"),
            timeseries("Webhook attempts by outcome", "Delivery attempts per second (delivered, failed, dead).",
                       [(f"sum by (outcome) (rate(relance_gateway_webhook_attempts_total{{{sel}}}[{RATE}]))", "{{outcome}}")],
                       unit="ops", w=8),
            timeseries("Deliveries by status", "Webhook deliveries stored, by status (pending, delivered, dead).",
                       [(f"max by (status) (relance_gateway_deliveries{{{sel}}})", "{{status}}")], w=8),
            timeseries("New dead letters", "Deliveries that failed every attempt, per hour.",
                       [(f"sum(increase(relance_gateway_dead_letters_total{{{sel}}}[1h]))", "dead letters")], w=8),
            row("Transfer events"),
            timeseries("transfer.events handled", "Events consumed per second, by type and outcome.",
                       [(f"sum by (event_type, outcome) (rate(relance_gateway_transfer_events_total{{{sel}}}[{RATE}]))",
                         "{{event_type}} {{outcome}}")], unit="ops"),
            consumer_lag_panel("transfer-gateway"),
            row("Demo agency (simulator)"),
            timeseries("Simulator: webhooks received", "Webhooks the demo agency simulator received, by outcome.",
                       [(f"sum by (outcome) (rate(relance_agency_simulator_webhooks_total[{RATE}]))", "{{outcome}}")],
                       unit="ops"),
            timeseries("Simulator: answers sent", "Answers the demo agency simulator sent to the gateway, by outcome.",
                       [(f"sum by (outcome) (rate(relance_agency_simulator_answers_total[{RATE}]))", "{{outcome}}")],
                       unit="ops"),
            *http_row(job),
            *process_row(job),
        ],
        [instance_variable(job), route_variable(job)],
    )


def relay() -> dict:
    job = "relance-relay"
    sel = f'job="{job}", instance=~"$instance"'
    return dashboard(
        "relance-relay", "Relance outbox relay",
        "The outbox relay: events published to Kafka by topic, backlog, failures, and the "
        "time from the outbox insert to the publish.",
        [
            row("Outbox"),
            stat("Pending", "Outbox events not yet published, every schema.",
                 f"sum(max by (schema) (relance_outbox_pending{{{sel}}}))", red_above=1000),
            stat("Published / s", "Events published per second.",
                 f"sum(rate(relance_outbox_published_total{{{sel}}}[{RATE}]))", unit="ops"),
            stat("Failed batches (1h)", "Batches that failed to publish in the last hour.",
                 f"sum(increase(relance_outbox_publish_failures_total{{{sel}}}[1h]))", red_above=1),
            stat("p99 lag", "99th percentile insert-to-publish time.",
                 f"histogram_quantile(0.99, sum by (le) (rate(relance_outbox_lag_seconds_bucket{{{sel}}}[{RATE}])))",
                 unit="s", red_above=30),
            timeseries("Published by topic", "Events published per second, by Kafka topic.",
                       [(f"sum by (topic) (rate(relance_outbox_published_total{{{sel}, topic=~\"$topic\"}}[{RATE}]))",
                         "{{topic}}")], unit="ops", stack=True),
            timeseries("Lag (insert to publish)", "Time from the outbox insert to the publish.",
                       [(f"histogram_quantile({q}, sum by (le) (rate(relance_outbox_lag_seconds_bucket{{{sel}}}[{RATE}])))",
                         f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)], unit="s"),
            timeseries("Pending by schema", "Outbox events not yet published, by the schema of the writing service.",
                       [(f"max by (schema) (relance_outbox_pending{{{sel}}})", "{{schema}}")]),
            stat("Parked", "Outbox rows the broker refused for themselves, waiting for a replay.",
                 f"sum(max by (schema) (relance_outbox_parked_rows{{{sel}}}))", red_above=0),
            timeseries("Parked and pruned", "Rows parked per hour, by topic; published rows and processed ids pruned per hour.",
                       [(f"sum by (topic) (increase(relance_outbox_parked_total{{{sel}}}[1h]))", "parked {{topic}}"),
                        (f"sum by (table) (increase(relance_outbox_pruned_total{{{sel}}}[1h]))", "pruned {{table}}"),
                        (f"sum by (event_type) (increase(relance_events_claim_checked_total{{{sel}}}[1h]))",
                         "claim-checked {{event_type}}")]),
            timeseries("Publish failures", "Batches that failed to publish, per second.",
                       [(f"sum(rate(relance_outbox_publish_failures_total{{{sel}}}[{RATE}]))", "failed batches")],
                       unit="ops"),
            *process_row(job),
        ],
        [instance_variable(job), query_variable(
            "topic", "Topic", f'label_values(relance_outbox_published_total{{job="{job}"}}, topic)'
        )],
    )


def business() -> dict:
    return dashboard(
        "relance-business", "Relance business",
        "Transfers, agency answers, the event pipeline (outbox and consumer lag), dead letters, "
        "webhook failures, communications and scenario steps (F-34).",
        [
            row("At a glance"),
            stat("Open transfers", "Transfers not closed.", "sum(max by (state) (relance_transfers_open))", w=4),
            stat("Overdue agency answers", "Cancellation requests unanswered past the delay.",
                 "sum(max by (agency) (relance_transfers_agency_answer_overdue)) or vector(0)", w=4, red_above=1),
            stat("Webhook dead letters", "Deliveries to agencies waiting for a replay.",
                 'max(relance_gateway_deliveries{status="dead"}) or vector(0)', w=4, red_above=1),
            stat("Pending outbox", "Outbox events not yet published, every schema.",
                 "sum(max by (schema) (relance_outbox_pending))", w=4, red_above=1000),
            stat("Consumer lag", "Messages not yet consumed, every Relance consumer group.",
                 'sum(kafka_consumergroup_lag{consumergroup=~"$consumergroup"})', w=4, red_above=1000),
            stat("Processes down", "Relance processes Prometheus cannot scrape (RelanceServiceDown).",
                 'count(up{job=~"relance-.*"} == 0) or vector(0)', w=4, red_above=1),
            row("Transfers"),
            timeseries("Open transfers by state", "Transfers not closed, by state.",
                       [("max by (state) (relance_transfers_open)", "{{state}}")], stack=True),
            timeseries("Overdue agency answers", "Unanswered cancellation requests past the delay, by agency.",
                       [('max by (agency) (relance_transfers_agency_answer_overdue{agency=~"$agency"})', "{{agency}}")]),
            row("Event pipeline"),
            timeseries("Outbox lag", "Time from the outbox insert to the publish to Kafka.",
                       [(f"histogram_quantile({q}, sum by (le) (rate(relance_outbox_lag_seconds_bucket[{RATE}])))",
                         f"p{int(q * 100)}") for q in (0.5, 0.99)], unit="s", w=8),
            timeseries("Pending outbox", "Outbox events not yet published, by schema.",
                       [("max by (schema) (relance_outbox_pending)", "{{schema}}")], w=8),
            timeseries("Consumer lag", "Messages not yet consumed, by consumer group and topic.",
                       [('sum by (consumergroup, topic) (kafka_consumergroup_lag{consumergroup=~"$consumergroup"})',
                         "{{consumergroup}} {{topic}}")], w=8),
            stat("Consumer dead letters", "Messages the consumers parked after their retries (or could not read), "
                 "waiting for a replay (RelanceConsumerDeadLetters; relance dead-letters list).",
                 "sum(max by (service) (relance_dead_letters_waiting)) or vector(0)", w=8, red_above=1),
            timeseries("Consumer dead letters by topic", "Messages parked per hour, by consuming service and topic.",
                       [("sum by (service, topic) (increase(relance_dead_letters_total[1h]))", "{{service}} {{topic}}")],
                       w=8),
            timeseries("Consumer retries", "Messages handled again after a failure per second: the message's "
                       "own error (bounded, then parked) or an outage (retried until it ends).",
                       [(f"sum by (service, kind) (rate(relance_consumer_retries_total[{RATE}]))", "{{service}} {{kind}}")],
                       unit="ops", w=8),
            row("Agencies"),
            timeseries("Dead letters", "New webhook dead letters per hour, and those waiting for a replay.",
                       [("sum(increase(relance_gateway_dead_letters_total[1h]))", "new per hour"),
                        ('max(relance_gateway_deliveries{status="dead"})', "waiting")]),
            timeseries("Webhook failures", "Share of webhook delivery attempts that failed.",
                       [(f'sum(rate(relance_gateway_webhook_attempts_total{{outcome=~"failed|dead"}}[{RATE}])) '
                         f"/ sum(rate(relance_gateway_webhook_attempts_total[{RATE}]))", "failed share")],
                       unit="percentunit"),
            row("Communications and scenarios"),
            timeseries("Communications by channel and outcome", "Communications finished per hour.",
                       [('sum by (channel, status) (increase(relance_notifier_communications_total{channel=~"$channel"}[1h]))',
                         "{{channel}} {{status}}")], stack=True),
            timeseries("Scenario steps due vs done", "Scenario steps that fell due per hour against the scenario interventions closed Done.",
                       [("sum(increase(relance_scenario_steps_due_total[1h]))", "due"),
                        ('sum(increase(relance_interventions_closed_total{origin="scenario", status="done"}[1h]))', "done"),
                        ('sum(increase(relance_interventions_closed_total{origin="scenario", status="skipped"}[1h]))', "skipped")]),
        ],
        [
            query_variable("agency", "Agency", "label_values(relance_transfers_agency_answer_overdue, agency)"),
            query_variable("consumergroup", "Consumer group", "label_values(kafka_consumergroup_lag, consumergroup)"),
            query_variable("channel", "Channel", "label_values(relance_notifier_communications_total, channel)"),
        ],
    )


BUILDERS = {
    "relance-business.json": business,
    "relance-dossier.json": dossier,
    "relance-workflow.json": workflow,
    "relance-notifier.json": notifier,
    "relance-transfer-gateway.json": gateway,
    "relance-relay.json": relay,
}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in BUILDERS.items()}


def main() -> int:
    for name, text in render().items():
        (DASHBOARDS / name).write_text(text)
    for stale in set(p.name for p in DASHBOARDS.glob("*.json")) - set(BUILDERS):
        (DASHBOARDS / stale).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
