"""CPU used by each part of the stack during a run, read from /proc: how many of the machine's cores
gunicorn (master and workers), PostgreSQL (the run's cluster) and Locust each kept busy, per interval.

The exam hour is a question of fitting the work of a second into the CPU of a second; this says
which part took what (docs/benchmarks.md, "The exam hour")."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces
    return text[text.rindex(")") + 2:].split()


def _cpu_seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def _parts(gunicorn_pid: int, postgres_port: int, locust_sid: int | None) -> dict[str, float]:
    """CPU seconds so far of each part's live processes."""
    totals = {"gunicorn": 0.0, "postgresql": 0.0, "locust": 0.0}
    postmaster = None
    rows = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat(int(entry))
        if fields is None:
            continue
        rows.append((int(entry), fields))
        if postmaster is None:
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if command and command[0].endswith(b"postgres") and str(postgres_port).encode() in command:
                postmaster = int(entry)
    for pid, fields in rows:
        parent, session = int(fields[1]), int(fields[3])
        if pid == gunicorn_pid or parent == gunicorn_pid:
            totals["gunicorn"] += _cpu_seconds(fields)
        elif postmaster is not None and (pid == postmaster or parent == postmaster):
            totals["postgresql"] += _cpu_seconds(fields)
        elif locust_sid is not None and session == locust_sid:
            totals["locust"] += _cpu_seconds(fields)
    return totals


class CpuSampler:
    """Samples every `interval` seconds in a thread; `series` holds, per interval, the cores each part
    used (CPU seconds over wall seconds), with the interval's end in seconds from the start."""

    def __init__(self, gunicorn_pid: int, postgres_port: int, interval: float = 10):
        self.gunicorn_pid, self.postgres_port, self.interval = gunicorn_pid, postgres_port, interval
        self.locust_sid: int | None = None
        self.series: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "CpuSampler":
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        began = last_time = time.monotonic()
        last = _parts(self.gunicorn_pid, self.postgres_port, self.locust_sid)
        while not self._stop.wait(self.interval):
            now, current = time.monotonic(), _parts(self.gunicorn_pid, self.postgres_port, self.locust_sid)
            wall = now - last_time
            # a process that ended (a restarted worker) takes its seconds with it: never below 0
            self.series.append({"t": round(now - began), **{part: round(max(0.0, current[part] - last[part]) / wall, 2)
                                                            for part in current}})
            last, last_time = current, now

    def average(self, until_s: float) -> dict[str, float]:
        """Mean cores of each part over the intervals ending by `until_s` (e.g. the arrivals)."""
        rows = [row for row in self.series if row["t"] <= until_s + self.interval / 2] or self.series
        if not rows:
            return {}
        parts = [key for key in rows[0] if key != "t"]
        averages = {part: round(sum(row[part] for row in rows) / len(rows), 2) for part in parts}
        averages["total"] = round(sum(averages.values()), 2)
        return averages
