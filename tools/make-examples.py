#!/usr/bin/env python3
"""Writes the example recordings under examples/ (deterministic; standard library only).

examples/settling.txt  RR in ms, one per line, with comments
examples/settling.csv  the same beats as CSV with a time column

About 6 minutes: restless for 2 minutes (breathing 18/min, wandering heart rate), then breathing settles into 6 breaths/min, with one
missed and one extra beat as chest straps sometimes produce. Run from the repository root:
    python3 tools/make-examples.py
"""
import math
import random

random.seed(7)
rr = []
t = 0.0
wander = 0.0
while t < 360.0:
    settle = min(1.0, max(0.0, (t - 90.0) / 60.0))
    wander = 0.97 * wander + random.gauss(0, 9.0)
    resp_fast = 25 * math.sin(2 * math.pi * 0.3 * t)
    resp_slow = 70 * math.sin(2 * math.pi * 0.1 * t)
    v = 850 + (1 - settle) * (wander + resp_fast) + settle * resp_slow + random.gauss(0, 12)
    rr.append(v)
    t += v / 1000.0
# A missed beat (two intervals merged) and an extra beat (one interval split).
rr[150] = rr[150] + rr[151]
del rr[151]
a = rr[300]
rr[300:301] = [a * 0.45, a * 0.55]

with open("examples/settling.txt", "w") as f:
    f.write("# Sync Hub example recording: RR intervals in ms, one per line.\n")
    f.write("# About 6 minutes: restless for 2 minutes (breathing 18/min, wandering heart rate), then settling into 6 breaths/min.\n")
    f.write("# Contains one missed and one extra beat, as chest straps sometimes produce.\n")
    for v in rr:
        f.write(f"{v:.1f}\n")
with open("examples/settling.csv", "w") as f:
    f.write("time_s,rr_ms\n")
    t = 0.0
    for v in rr:
        t += v / 1000
        f.write(f"{t:.3f},{v:.1f}\n")
