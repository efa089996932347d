"""Scenario 9, secrets: with a database password and SASL credentials configured, no
log line (DEBUG included), error message, ``--help`` text, settings description or
Prometheus metric contains them.

The worker is pointed at the plaintext test broker with SASL settings, so it cannot
authenticate: that failure is exactly what gets logged and must stay masked.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable

import pytest
from sqlalchemy.engine import make_url

from devservices.pids_and_ports import free_port
from infra.settings import Settings
from tests.faults.helpers import SLA_PIPELINE, report_figures, worker_env
from tests.faults.workers import WorkerProcess

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]
SASL_USER = "sla-sasl-user-7f3a91"
SASL_PASSWORD = "sasl-secret-Zq9x-4471"
WRONG_DB_PASSWORD = "wrong-db-secret-5521"
SASL = {
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": "PLAIN",
    "sasl.username": SASL_USER,
    "sasl.password": SASL_PASSWORD,
}


def run_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*SLA_PIPELINE, *args], env=env, capture_output=True, timeout=60, check=False
    )
    return done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")


def scrape(port: int, worker: WorkerProcess) -> str:
    """The metrics exposition, once the worker serves it (bounded wait)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as page:
                return str(page.read().decode())
        except OSError:
            time.sleep(0.2)
    raise AssertionError("no metrics served:\n" + worker.output()[-2000:])


def test_credentials_never_appear_in_logs_errors_help_or_metrics(
    settings_for: Callable[[str], Settings], pg_database_url: str
) -> None:
    started = time.monotonic()
    settings = settings_for(pg_database_url)
    db_password = make_url(pg_database_url).password
    assert db_password
    secrets = [db_password, SASL_PASSWORD, WRONG_DB_PASSWORD]
    env = worker_env(settings, SLA_KAFKA_CONFIG=json.dumps(SASL), SLA_LOG_LEVEL="DEBUG")
    outputs: dict[str, str] = {}

    port = free_port()
    worker = WorkerProcess(env, "--until-idle", "3", "--metrics-port", str(port))
    outputs["metrics"] = scrape(port, worker)
    # the broker refuses SASL: a bounded run that never had contact fails with one line
    assert worker.wait(90) == 1, worker.output()[-3000:]
    assert "error: no contact with Kafka at" in worker.output()
    outputs["consume (SASL refused, DEBUG log)"] = worker.output()
    assert "sla_pipeline_events_consumed_total" in outputs["metrics"]

    wrong = make_url(pg_database_url).set(password=WRONG_DB_PASSWORD)
    wrong_env = {**env, "SLA_DATABASE_URL": wrong.render_as_string(hide_password=False)}
    outputs["wrong database password"] = run_cli(wrong_env, "consume", "--until-idle", "1")
    assert "error:" in outputs["wrong database password"]
    outputs["invalid setting"] = run_cli({**env, "SLA_BATCH_SIZE": "0"}, "consume")
    assert "invalid configuration" in outputs["invalid setting"]
    outputs["-X on the command line"] = run_cli(
        env, "-X", f"sasl.password={SASL_PASSWORD}", "-X", "broken", "consume"
    )
    for args in (["--help"], ["consume", "--help"], ["dlq", "--help"], ["db", "--help"]):
        outputs[" ".join(args)] = run_cli(env, *args)
    configured = Settings(
        database_url=pg_database_url,
        kafka_config=SASL,
    )
    outputs["settings describe/repr"] = "\n".join(
        [json.dumps(configured.describe()), repr(configured), str(configured)]
    )

    leaks = [
        f"{where}: {secret!r}"
        for where, output in outputs.items()
        for secret in secrets
        if secret in output
    ]
    assert leaks == []
    report_figures(
        "secrets",
        outputs_checked=len(outputs),
        lines_checked=sum(o.count("\n") for o in outputs.values()),
        leaks=len(leaks),
        seconds=round(time.monotonic() - started, 1),
    )
