#!/usr/bin/env python3
"""Simulate a SaaS business with ChurnSim (PyPI `fightchurn` 1.2.0, model socialnet7) and
write it in churnlake's source formats (docs/contract.md §1):

    OUT/handoffs/handoffs.csv             one row per simulator subscription line
    OUT/segment/events-YYYY-MM.ndjson.gz  Segment `track` calls, one file per calendar month
    OUT/simulator/accounts.csv            the simulator's account table (id, channel, dob, country)
    OUT/simulator/*                       the model files and config ChurnSim copies out
    OUT/summary.json                      counts and runtime of this run

The simulation runs in this process through the package's own classes (ChurnSimulation,
LogNormalBehaviorModel, UtilityModel, Customer), configured by hydra overrides of the
package's `socialnet7` config, exactly as `fightchurn.churnsim.churnsim` would run it,
except for two things done in a subclass (the installed package is not modified):

1. No PostgreSQL: the three methods that write to the database (schema setup,
   add_customer_to_database, customer_events_subs_to_database) are replaced by a sink that
   writes the same rows (account, subscription, event) to the files above.
2. MONTH RESET: in batch mode fightchurn 1.2.0 never resets a customer's event counts
   between simulated months (only its live mode calls Customer.reset_event_counts), so the
   utility / churn decision at each month end sees lifetime totals, which saturate the
   utility function after a few months: behaviour then stops driving churn (every 30-day
   metric has AUC ~0.50). We reset the counts at the start of every simulated month, so the
   churn decision sees that month's counts, as the model's monthly means intend.

Usage:  python simulate.py --out /var/tmp/fightchurn --customers 3000 --seed 42
"""
import argparse
import csv
import gzip
import io
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta

MODEL = "socialnet7"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="/var/tmp/fightchurn", help="output directory")
    p.add_argument("--customers", type=int, default=3000, help="ChurnSim init_customers")
    p.add_argument("--seed", type=int, default=42, help="ChurnSim random_seed")
    p.add_argument("--start-date", default="2024-01-01")
    p.add_argument("--end-date", default="2025-06-30",
                   help="last simulated day; events after it are not written")
    p.add_argument("--growth-rate", type=float, default=None,
                   help="ChurnSim growth_rate override (default: the model's, 0.1 per month)")
    p.add_argument("--gzip-level", type=int, default=6)
    p.add_argument("--no-month-reset", action="store_true",
                   help="run the package's batch loop as shipped (lifetime counts), for comparison")
    return p.parse_args()


def main():
    args = parse_args()
    out = os.path.abspath(args.out)
    sim_dir = os.path.join(out, "simulator")
    for sub in ("handoffs", "segment", "simulator"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    for name in os.listdir(os.path.join(out, "segment")):  # a rerun replaces, never mixes
        if name.startswith("events-"):
            os.remove(os.path.join(out, "segment", name))

    # ChurnSim keeps its customer-id counter and lock in tempfile.gettempdir(), computed at
    # import time: give it a private directory so concurrent runs cannot share ids.
    private_tmp = tempfile.mkdtemp(prefix="churnsim-")
    os.environ["TMPDIR"] = private_tmp
    tempfile.tempdir = None
    # ChurnSim copies its model/plan/config files under $CHURN_OUT_DIR/<model>.
    os.environ["CHURN_OUT_DIR"] = out
    os.environ.setdefault("CHURN_DB", "unused")  # read only by the DB methods replaced below

    import random
    import fightchurn.churnsim as churnsim_pkg
    from hydra import compose, initialize_config_dir
    from fightchurn.churnsim.churnsim import ChurnSimulation
    from fightchurn.churnsim.customer import Customer

    assert Customer.ID_FILE.startswith(private_tmp), Customer.ID_FILE

    overrides = [
        f"init_customers={args.customers}",
        f"random_seed={args.seed}",
        f"start_date='{args.start_date}'",
        f"end_date='{args.end_date}'",
        "n_parallel=1",  # joblib runs in-process, so the sink below sees every customer
        "force=True",
    ]
    if args.growth_rate is not None:
        overrides.append(f"growth_rate={args.growth_rate}")
    conf_dir = os.path.join(os.path.dirname(churnsim_pkg.__file__), "conf")
    with initialize_config_dir(config_dir=conf_dir, version_base=None):
        cfg = compose(config_name=MODEL, overrides=overrides)

    sim_end = date.fromisoformat(args.end_date)
    cutoff = datetime.combine(sim_end + timedelta(days=1), datetime.min.time())

    class FileSink:
        """Receives what ChurnSim would COPY into <model>.account/.subscription/.event."""

        def __init__(self, event_names):
            self.event_names = list(event_names)
            self.handoffs_f = open(os.path.join(out, "handoffs", "handoffs.csv"), "w", newline="")
            self.handoffs = csv.writer(self.handoffs_f, lineterminator="\n")
            self.handoffs.writerow([
                "deal_id", "account_id", "account_name", "plan", "segment", "region",
                "seats", "start_date", "end_date", "mrr", "currency", "closed_at", "updated_at",
            ])
            self.accounts_f = open(os.path.join(sim_dir, "accounts.csv"), "w", newline="")
            self.accounts = csv.writer(self.accounts_f, lineterminator="\n")
            self.accounts.writerow(["account_id", "channel", "date_of_birth", "country",
                                    "start_date", "end_date", "churned", "lines", "events"])
            self.event_files = {}
            self.channel = {}
            self.country = {}
            self.dob = {}
            self.n_lines = 0
            self.n_events = 0
            self.n_events_after_end = 0
            self.event_counts = Counter()
            self.events_per_month = Counter()
            self.churn_per_month = Counter()
            self.new_per_month = Counter()
            self.n_accounts = 0
            self.n_churned = 0

        def account(self, customer):
            # Same fields as ChurnSim's INSERT INTO <model>.account.
            self.channel[customer.id] = customer.channel
            self.country[customer.id] = None if customer.country == "None" else customer.country
            self.dob[customer.id] = customer.date_of_birth.isoformat()

        def _events_file(self, month):
            f = self.event_files.get(month)
            if f is None:
                path = os.path.join(out, "segment", f"events-{month}.ndjson.gz")
                # mtime=0: the same seed gives byte-identical files
                raw = gzip.GzipFile(path, "wb", compresslevel=args.gzip_level, mtime=0)
                f = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                self.event_files[month] = f
            return f

        def customer(self, customer):
            # Same rows as ChurnSim's COPY into <model>.subscription and <model>.event.
            acc = f"acc_{customer.id}"
            assert customer.users is None, "socialnet7 accounts have a single user"
            subs = customer.subscriptions
            for k, s in enumerate(subs):
                plan, start, end, mrr, _qty, _units, _bill_period, discount = s
                assert discount == 0.0
                stamp = f"{start.isoformat()}T00:00:00Z"
                self.handoffs.writerow([
                    f"sub_{customer.id}_{k:03d}", acc, f"Account {customer.id}", plan,
                    self.channel[customer.id], self.country[customer.id] or "",
                    1, start.isoformat(), end.isoformat() if end is not None else "",
                    f"{float(mrr):.2f}", "USD", stamp, stamp,
                ])
            self.n_lines += len(subs)
            first_start = subs[0][1]
            last_end = subs[-1][2]
            # A customer churned when its last line ends on or before the simulation's last
            # day (ChurnSim writes no further line); otherwise its last line runs to a
            # renewal date after the end.
            churned = last_end <= sim_end
            self.n_accounts += 1
            self.new_per_month[first_start.strftime("%Y-%m")] += 1
            if churned:
                self.n_churned += 1
                self.churn_per_month[last_end.strftime("%Y-%m")] += 1

            user = f"u_{customer.id}_0"
            n = 0
            lines_by_month = {}
            for seq, (when, type_id, user_id, value) in enumerate(customer.events):
                if when >= cutoff:  # generated for the last, unfinished month: not yet observed
                    self.n_events_after_end += 1
                    continue
                name = self.event_names[type_id]
                props = "{}" if value is None else json.dumps({"value": float(value)})
                month = when.strftime("%Y-%m")
                lines_by_month.setdefault(month, []).append(
                    f'{{"type":"track","messageId":"ev_{customer.id}_{seq}",'
                    f'"timestamp":"{when.strftime("%Y-%m-%dT%H:%M:%SZ")}",'
                    f'"userId":"{user}","event":"{name}","properties":{props},'
                    f'"context":{{"groupId":"{acc}"}}}}\n'
                )
                self.event_counts[name] += 1
                self.events_per_month[month] += 1
                n += 1
            for month, lines in lines_by_month.items():
                self._events_file(month).write("".join(lines))
            self.n_events += n
            self.accounts.writerow([
                acc, self.channel[customer.id], self.dob[customer.id], self.country[customer.id] or "",
                first_start.isoformat(), last_end.isoformat(), int(churned), len(subs), n,
            ])

        def close(self):
            self.handoffs_f.close()
            self.accounts_f.close()
            for f in self.event_files.values():
                f.close()

    class FileChurnSimulation(ChurnSimulation):
        """ChurnSimulation with its DB writes captured to files and the month reset."""

        def first_sim_setup(self, force):
            # Replaces schema creation / truncation and the event_type INSERTs (no DB); the
            # event type ids are the behaviour models' row indices, as insert_event_types uses.
            self.remove_tmp_files()
            self.sink = FileSink(self.behavior_models[next(iter(self.behavior_models))].behave_names)

        def create_customer(self, start_date):
            customer = super().create_customer(start_date)
            if args.no_month_reset:
                return customer
            # MONTH RESET (the wrapper around the simulation loop): in batch mode
            # ChurnSimulation.simulate_customer calls generate_events once per simulated month
            # (customer start + k months .. + k+1 months) and then customer_month_end, whose
            # utility/churn decision reads customer.event_counts. fightchurn 1.2.0 never resets
            # those counts in batch mode, so they are lifetime totals that saturate and churn
            # stops depending on behaviour. Zeroing them before each month's generate_events
            # makes every churn decision see that month's counts.
            generate = customer.generate_events

            def generate_month(month_start, month_end):
                customer.reset_event_counts()
                return generate(month_start, month_end)

            customer.generate_events = generate_month
            return customer

        def add_customer_to_database(self, customer):
            self.sink.account(customer)

        def customer_events_subs_to_database(self, customer):
            self.sink.customer(customer)
            customer.clear_history()  # the rows are written: free the memory

        def sim_rate_debug_query(self):
            pass  # a DB query in the package; summary.json carries the figures instead

    t0 = time.time()
    # As fightchurn.churnsim.churnsim.run_churn_simulation does: seed `random`, then build the
    # simulation (each behaviour model seeds numpy with random_seed).
    random.seed(cfg.random_seed)
    sim = FileChurnSimulation(cfg)
    sim.run_simulation(force=True)
    sink = sim.sink
    sink.close()
    elapsed = time.time() - t0
    try:
        os.rmdir(private_tmp)
    except OSError:
        pass
    # ChurnSim saved its files under OUT/<model>; keep them with the simulator's outputs.
    model_dir = os.path.join(out, MODEL)
    if os.path.isdir(model_dir):
        for name in os.listdir(model_dir):
            os.replace(os.path.join(model_dir, name), os.path.join(sim_dir, name))
        os.rmdir(model_dir)

    summary = {
        "model": MODEL,
        "fightchurn_overrides": overrides,
        "month_reset": not args.no_month_reset,
        "runtime_seconds": round(elapsed, 1),
        "accounts": sink.n_accounts,
        "initial_customers": args.customers,
        "handoff_lines": sink.n_lines,
        "events": sink.n_events,
        "events_after_end_dropped": sink.n_events_after_end,
        "churned_accounts": sink.n_churned,
        "active_at_end": sink.n_accounts - sink.n_churned,
        "new_accounts_per_month": dict(sorted(sink.new_per_month.items())),
        "churned_per_month": dict(sorted(sink.churn_per_month.items())),
        "events_per_month": dict(sorted(sink.events_per_month.items())),
        "event_types": dict(sink.event_counts.most_common()),
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    sys.exit(main())
