#!/usr/bin/env python3
"""Writes room.jsonl: a recorded stream of the /ws frames a display receives (one frame per
line), for the projector's replay mode and tests. 12 participants in a preparation phase of
8 s, then an active phase; the person in slot 4 leaves at second 20, a 13th person joins (slot
12, the second ring) at second 25; the group settles slowly. Deterministic: run it again to get
the same file."""
import json
import math

T0 = 1_764_000_000_000  # hub time of the first snapshot, ms
SESSION = "0194f0c0-0000-7000-8000-000000000001"
PREP_MS, ACTIVE_MS, INTEGRATION_MS = 8_000, 750_000, 120_000


def band(score):
    return "high" if score >= 60 else "medium" if score >= 40 else "low"


def frame(event, data):
    return json.dumps({"event": event, "data": data}, separators=(",", ":"))


lines = [frame("pacer", {"breathsPerMin": 6.0, "inhaleRatio": 0.4, "epochHubTime": T0 - 3_000})]
bases = [28, 55, 71, 43, 35, 62, 48, 80, 38, 58, 66, 32, 50]
for second in range(45):
    now = T0 + second * 1000
    if second == 8:
        lines.append(frame("phase_changed", {"sessionId": SESSION, "phase": "active",
                                             "startedAt": now, "endsAt": now + ACTIVE_MS}))
    phase = "preparation" if second < 8 else "active"
    if phase == "preparation":
        phase_left = PREP_MS - second * 1000
    else:
        phase_left = ACTIVE_MS - (second - 8) * 1000
    session_left = PREP_MS + ACTIVE_MS + INTEGRATION_MS - second * 1000
    participants = []
    for slot, base in enumerate(bases):
        if slot == 4 and second >= 20:
            continue
        if slot == 12 and second < 25:
            continue
        score = base + 0.35 * second + 6 * math.sin(second * 0.4 + slot)
        score = round(max(0.0, min(100.0, score)), 1)
        quality = "warming_up" if slot == 12 and second < 30 else "good"
        participants.append({"slot": slot, "coherence": score, "phase": band(score),
                             "quality": quality})
    lines.append(frame("room_snapshot", {"timestamp": now, "sessionId": SESSION, "phase": phase,
                                         "phaseTimeLeft": phase_left,
                                         "sessionTimeLeft": session_left,
                                         "participants": participants}))
    scores = sorted(p["coherence"] for p in participants if p["quality"] == "good")
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    lines.append(frame("group_metrics_update", {"groupMetrics": {
        "sessionId": SESSION, "timestamp": now, "participantCount": len(participants),
        "averageCoherence": round(mean, 2), "peakCoherence": round(max(scores), 1),
        "coherencePhase": band(mean),
        "coherenceDistribution": {b: sum(1 for s in scores if band(s) == b)
                                  for b in ("low", "medium", "high")},
        "medianCoherence": scores[len(scores) // 2], "stdCoherence": round(std, 2),
        "activeCount": len(scores), "synchronyIndex": round(0.25 + 0.012 * second, 3)}}))

with open("room.jsonl", "w") as out:
    out.write("\n".join(lines) + "\n")
