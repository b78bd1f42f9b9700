"""Airflow DAGs that run churnlake (tested with Airflow 3.3.2; imports also fall back to 2.x).

Install churnlake on the workers (`cargo install --path .` in the repo, or copy
`target/release/churnlake`), put this file in the DAGs folder, and set, where the scheduler and
workers run:

  CHURNLAKE_BIN        churnlake binary (default: `churnlake` on PATH)
  CHURNLAKE_PIPELINE   pipeline file (default: pipelines/default.toml)
  CHURNLAKE_WAREHOUSE  warehouse root (default: warehouse)
  CHURNLAKE_DATA_ROOT  optional; overrides the pipeline's data_root
  CHURNLAKE_WORKDIR    optional; directory the command runs in

Relative paths resolve against the directory the command runs in, which is a fresh temporary
directory unless CHURNLAKE_WORKDIR is set, so use absolute paths or set CHURNLAKE_WORKDIR.

DAGs:
  churnlake_nightly   daily; `churnlake run --as-of <day>` for the day that just ended
                      (`airflow dags test churnlake_nightly 2026-08-24` builds 2026-08-24).
  churnlake_backfill  manual; params from, to (YYYY-MM-DD) and every (day|week|month), e.g.
                      airflow dags trigger churnlake_backfill -c '{"from": "2026-08-01", "to": "2026-08-31"}'

churnlake exits 99 when there is no input for the date; the task is then marked skipped,
not failed (skip_on_exit_code=99). Any other non-zero exit fails the task (one retry).
"""

import os
import shlex
from datetime import datetime, timedelta, timezone

from airflow.timetables.interval import CronDataIntervalTimetable

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.x
    from airflow.models.dag import DAG
    from airflow.models.param import Param
    from airflow.operators.bash import BashOperator

NO_INPUT = 99


def _base_command() -> str:
    env = os.environ.get
    parts = [
        env("CHURNLAKE_BIN", "churnlake"),
        "--pipeline", env("CHURNLAKE_PIPELINE", "pipelines/default.toml"),
        "--warehouse", env("CHURNLAKE_WAREHOUSE", "warehouse"),
    ]
    if env("CHURNLAKE_DATA_ROOT"):
        parts += ["--data-root", env("CHURNLAKE_DATA_ROOT")]
    return " ".join(shlex.quote(p) for p in parts)


DEFAULT_ARGS = {"owner": "churnlake", "retries": 1, "retry_delay": timedelta(minutes=5)}
WORKDIR = os.environ.get("CHURNLAKE_WORKDIR") or None

with DAG(
    dag_id="churnlake_nightly",
    # @daily with data intervals (Airflow 2 semantics): the run starting after midnight UTC
    # has ds = the day that just ended. Plain "@daily" in Airflow 3 would give ds = today.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["churnlake"],
):
    BashOperator(
        task_id="run",
        bash_command=_base_command() + " run --as-of {{ ds }} --log-format json",
        skip_on_exit_code=NO_INPUT,
        cwd=WORKDIR,
    )

with DAG(
    dag_id="churnlake_backfill",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args=DEFAULT_ARGS,
    params={
        "from": Param(type="string", format="date", description="first date, YYYY-MM-DD"),
        "to": Param(type="string", format="date", description="last date, YYYY-MM-DD"),
        "every": Param("day", enum=["day", "week", "month"]),
    },
    tags=["churnlake"],
):
    BashOperator(
        task_id="backfill",
        bash_command=_base_command()
        + " backfill --from {{ params['from'] }} --to {{ params['to'] }}"
        + " --every {{ params['every'] }} --log-format json",
        skip_on_exit_code=NO_INPUT,
        cwd=WORKDIR,
    )
