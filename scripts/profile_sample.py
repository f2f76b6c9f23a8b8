"""Samples, for `scripts/profile.sh`, what the machine does while a bench runs.

Usage: profile_sample.py BENCH_PID SECONDS

Prints Markdown: the CPU seconds each process group used in the window
(the bench process, which hosts the whole stack; Postgres backends; Redis),
and what the bench database's Postgres backends were doing, sampled every
50 ms from pg_stat_activity: active backends by statement and wait event.
"""

import collections
import os
import subprocess
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_EVERY = 0.05


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def groups(bench_pid):
    found = collections.defaultdict(list)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as comm:
                name = comm.read().strip()
        except OSError:
            continue
        if int(pid) == bench_pid:
            found["switchyard (whole stack)"].append(pid)
        elif name.startswith("postgres") or name.startswith("postmaster"):
            found["postgres"].append(pid)
        elif name.startswith("redis-server"):
            found["redis"].append(pid)
    return found


def totals(found):
    return {group: sum(cpu_seconds(pid) for pid in pids) for group, pids in found.items()}


QUERY = (
    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), "
    "regexp_replace(left(query, 70), '\\s+', ' ', 'g') "
    "FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' "
    "AND pid <> pg_backend_pid() AND datname LIKE 'switchyard_bench_%'"
)


def main():
    bench_pid, seconds = int(sys.argv[1]), float(sys.argv[2])
    psql = subprocess.Popen(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-At", "-F", "\t", "-q"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    found = groups(bench_pid)
    before = totals(found)
    started = time.monotonic()
    samples = 0
    waits = collections.Counter()
    statements = collections.Counter()
    while time.monotonic() - started < seconds:
        psql.stdin.write(QUERY + "; SELECT 'END';\n")
        psql.stdin.flush()
        for line in iter(psql.stdout.readline, ""):
            line = line.rstrip("\n")
            if line == "END":
                break
            wait, _, query = line.partition("\t")
            waits[wait] += 1
            statements[(query, wait)] += 1
        samples += 1
        time.sleep(SAMPLE_EVERY)
    elapsed = time.monotonic() - started
    after = totals(groups(bench_pid))
    psql.stdin.close()
    psql.wait()

    print(f"## CPU over {elapsed:.0f} s (2 cores = {2 * elapsed:.0f} CPU-s)")
    print("| process | CPU-s | cores |")
    print("| --- | --- | --- |")
    for group in sorted(after, key=lambda g: -(after[g] - before.get(g, 0))):
        used = after[group] - before.get(group, 0)
        print(f"| {group} | {used:.1f} | {used / elapsed:.2f} |")
    print()
    print(f"## Postgres: active backends over {samples} samples (average busy backends)")
    print("| wait event | avg backends |")
    print("| --- | --- |")
    for wait, count in waits.most_common(8):
        print(f"| {wait} | {count / samples:.2f} |")
    print()
    print("| statement (start) | wait event | avg backends |")
    print("| --- | --- | --- |")
    for (query, wait), count in statements.most_common(15):
        print(f"| `{query}` | {wait} | {count / samples:.2f} |")


if __name__ == "__main__":
    main()
