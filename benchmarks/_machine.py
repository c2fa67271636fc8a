"""How busy the shared machine was during a benchmark: other processes' CPU use."""

import os


def cpu_seconds():
    """(CPU-seconds used by the whole machine, by this process and its children) so far; None
    where /proc is missing."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)    # minus idle, iowait
    t = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), t.user + t.system + t.children_user + t.children_system


def others_load(start, end, wall):
    """Average number of cores that other processes kept busy between two cpu_seconds()."""
    if start is None or end is None:
        return None
    return max(0.0, (end[0] - start[0]) - (end[1] - start[1])) / wall


def print_load(quiet, others):
    """Say how busy other processes kept the machine before and during the runs; warn if busy."""
    if others is None:
        return
    print(f"other processes kept {quiet:.2f} of {os.cpu_count()} cores busy just before the runs "
          f"and {others:.2f} on average during them")
    if max(quiet, others) > 0.2:
        print("WARNING: the machine was not quiet: the numbers below are pessimistic and noisy; "
              "rerun when it is idle.")
    print()


def settle(seconds=0.5):
    """(load of other processes over `seconds` of idling, cpu_seconds() and perf_counter() at the end):
    how quiet the machine was before a benchmark, and the marks to measure it during."""
    import time
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    quiet = others_load(cpu0, cpu_seconds(), time.perf_counter() - wall0)
    return quiet, cpu_seconds(), time.perf_counter()
