#!/usr/bin/env python3
"""bench/all-table.py — bench/all's table from the rows the benchmarks wrote (bench/row).

    bench/all-table.py ROWS MACHINE COMMIT COMMAND MINUTES FAILED

Prints Markdown: the machine and commit, then one line per row: device, load, unit, AVP's figure,
the peer and its figure, the ratio (> 1: AVP better, whichever way the unit is better), the goal
and whether it is met. A goal marked * is parity, set by no issue."""
import datetime
import sys

rows_path, machine, commit, command, minutes, failed = sys.argv[1:7]


def ratio(avp, peer, better):
    """AVP's advantage: AVP / peer where higher is better, peer / AVP where lower is."""
    if peer == "-":
        return None
    a, p = float(avp), float(peer)
    if better == "higher":
        return a / p if p else None
    return p / a if a else None


def verdict(goal, avp, advantage):
    if goal == "-":
        return "-"
    if goal.startswith("<="):
        return "met" if float(avp) <= float(goal[2:]) else "**not met**"
    if advantage is None:
        return "no figure"
    return "met" if advantage >= float(goal.rstrip("*")) else "**not met**"


def goal_text(goal):
    if goal == "-":
        return "-"
    if goal.startswith("<="):
        return "≤ " + goal[2:]
    return "≥ " + goal


lines = [line.rstrip("\n").split("\t") for line in open(rows_path) if line.strip()]
print("Run: `%s` on %s, commit `%s`, %s min, %s UTC." % (
    command, machine, commit, minutes, datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")))
print()
print("| device | load | unit | AVP | peer | peer's figure | ratio (> 1: AVP better) | goal | met |")
print("|---|---|---|---|---|---|---|---|---|")
met = not_met = 0
for device, load, unit, avp, peer_name, peer, better, goal in lines:
    advantage = ratio(avp, peer, better)
    result = verdict(goal, avp, advantage)
    met += result == "met"
    not_met += result == "**not met**"
    print("| %s | %s | %s (%s is better) | %s | %s | %s | %s | %s | %s |" % (
        device, load, unit, better, avp, peer_name, peer, "%.2f" % advantage if advantage is not None else "-",
        goal_text(goal), result))
print()
print("Goals met: %d; not met: %d. Goals marked * are parity, set by no issue; rows without a peer have no "
      "peer that runs here (named in each benchmark's header)." % (met, not_met))
if failed.strip():
    print()
    print("**Benchmarks that failed to give figures:** %s (their output is in the run's directory)." % failed)
