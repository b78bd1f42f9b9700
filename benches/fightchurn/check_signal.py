#!/usr/bin/env python3
"""Sanity check of simulate.py's output: does behaviour separate churners?

For every month start o whose horizon o + 90 days lies within the data, take the accounts
active on o (a handoff line with start_date <= o < end_date, contract §5), label those
inactive on o + 90 as churned within the horizon (as churnlake's health_cohorts does), and
score each by its count of one event type in the 30 days ending on o (days o-29 .. o,
contract §3). AUC = P(a churner's count < a non-churner's), ties 1/2, pooled over all
dates (and the mean of the per-date AUCs). Needs only duckdb (`pip install duckdb`).

Usage:  python check_signal.py [--data /var/tmp/fightchurn] [--horizon 90] [--window 30]
                               [--min-tenure DAYS]
"""
import argparse
import os

import duckdb


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/var/tmp/fightchurn")
    p.add_argument("--horizon", type=int, default=90)
    p.add_argument("--window", type=int, default=30)
    p.add_argument("--min-tenure", type=int, default=0,
                   help="keep only accounts whose first start_date is at least this many days before o")
    a = p.parse_args()
    con = duckdb.connect()
    con.execute("set threads = 1")
    con.execute(f"""
        create table lines as select account_id, cast(start_date as date) s, cast(end_date as date) e
        from read_csv('{os.path.join(a.data, 'handoffs', 'handoffs.csv')}', header = true,
                      columns = {{'deal_id':'varchar','account_id':'varchar','account_name':'varchar',
                                 'plan':'varchar','segment':'varchar','region':'varchar','seats':'int',
                                 'start_date':'date','end_date':'date','mrr':'decimal(18,6)',
                                 'currency':'varchar','closed_at':'varchar','updated_at':'varchar'}})""")
    con.execute(f"""
        create table daily as
        select context.groupId account_id, cast(cast("timestamp" as timestamptz) at time zone 'UTC' as date) d,
               event, count(*) n
        from read_ndjson('{os.path.join(a.data, 'segment', 'events-*.ndjson*')}',
                         columns = {{'timestamp':'varchar','event':'varchar','context':'struct(groupId varchar)'}})
        group by all""")
    last_day = con.execute("select max(d) from daily").fetchone()[0]
    con.execute(f"""
        create table obs as
        with dates as (
            select cast(o as date) o from range(date '2000-01-01', date '2100-01-01', interval 1 month) t(o)
            where cast(o as date) - {a.window} >= (select min(s) from lines)
              and cast(o as date) + {a.horizon} <= date '{last_day}'),
        first_start as (select account_id, min(s) fs from lines group by 1),
        active as (
            select distinct o, account_id from dates join lines on s <= o and (e is null or o < e)
            where account_id in (select account_id from first_start where fs <= o - {a.min_tenure}))
        select o, account_id,
               not exists (select 1 from lines l where l.account_id = active.account_id
                           and l.s <= o + {a.horizon} and (l.e is null or o + {a.horizon} < l.e)) churned
        from active""")
    events = [r[0] for r in con.execute("select distinct event from daily order by 1").fetchall()]
    con.execute(f"""
        create table feat as
        select o.o, o.account_id, o.churned, coalesce(d.event, '') event, coalesce(sum(d.n), 0) n
        from obs o left join daily d on d.account_id = o.account_id
             and d.d between o.o - {a.window - 1} and o.o
        group by all""")
    n_obs, n_churn, n_dates = con.execute(
        "select count(*), count(*) filter (where churned), count(distinct o) from obs").fetchone()
    print(f"{n_dates} observation dates, {n_obs} account-dates, {n_churn} churned within "
          f"{a.horizon} days ({n_churn / n_obs:.1%})")
    print(f"{'metric':<22} {'pooled AUC':>10} {'mean per-date':>14} {'median churn':>13} {'median stay':>12}")
    for ev in events + ["<all events>"]:
        where = f"event = '{ev}'" if ev != "<all events>" else "true"
        # every (o, account) with its count, 0 when none
        con.execute(f"""
            create or replace temp table x as
            select obs.o, obs.account_id, obs.churned, coalesce(sum(f.n) filter (where {where}), 0) n
            from obs left join feat f using (o, account_id) group by all""")
        pooled, per_date, med_c, med_s = auc(con)
        print(f"{ev + '_' + str(a.window) + 'd':<22} {pooled:>10.3f} {per_date:>14.3f} {med_c:>13.0f} {med_s:>12.0f}")


def auc(con):
    # Mann-Whitney with average ranks: AUC that a churner's count is BELOW a stayer's.
    pooled = con.execute("""
        with r as (select churned, rank() over (order by n) + (count(*) over (partition by n) - 1) / 2.0 rk from x),
        s as (select count(*) filter (where churned) c, count(*) filter (where not churned) k,
                     sum(rk) filter (where not churned) rs from r)
        select (rs - k * (k + 1) / 2.0) / (c * k) from s""").fetchone()[0]
    per_date = con.execute("""
        with r as (select o, churned, rank() over (partition by o order by n)
                          + (count(*) over (partition by o, n) - 1) / 2.0 rk from x),
        s as (select o, count(*) filter (where churned) c, count(*) filter (where not churned) k,
                     sum(rk) filter (where not churned) rs from r group by o)
        select avg((rs - k * (k + 1) / 2.0) / (c * k)) from s where c > 0 and k > 0""").fetchone()[0]
    med_c, med_s = con.execute("""select median(n) filter (where churned), median(n) filter (where not churned)
                                  from x""").fetchone()
    return pooled, per_date, med_c, med_s


if __name__ == "__main__":
    main()
