// The room's shared breathing pacer and the clock offset it needs. Every phone, browser and
// the projector animate the same breath at the same moment because they all compute it from
// the hub's clock (protocol.md, "Clock offset and the breathing pacer").
import type { Pacer } from "../generated/hub.pacer";

/** Where in the breath the room is now. */
export interface BreathState {
  /** Position in the whole breath, in [0, 1). */
  phase: number;
  /** Whether this is the in-breath (`phase < inhaleRatio`). */
  inhaling: boolean;
  /** Progress through the current in- or out-breath, in [0, 1). */
  progress: number;
  /** Size of the pacer circle, 0 (empty lungs) to 1 (full), eased so it breathes softly. */
  fullness: number;
}

/** `((hubNow − epochHubTime) × breathsPerMin / 60000) mod 1`, always in [0, 1). */
export function breathPhase(pacer: Pacer, hubNowMs: number): number {
  const breaths = ((hubNowMs - pacer.epochHubTime) * pacer.breathsPerMin) / 60_000;
  const phase = breaths - Math.floor(breaths);
  // Float rounding can give exactly 1 for tiny negative inputs.
  return phase >= 1 ? 0 : phase;
}

/** The breath at `hubNowMs`: in or out, and how far. */
export function breathState(pacer: Pacer, hubNowMs: number): BreathState {
  const phase = breathPhase(pacer, hubNowMs);
  const ratio = Math.min(Math.max(pacer.inhaleRatio, 0.05), 0.95);
  const inhaling = phase < ratio;
  const progress = inhaling ? phase / ratio : (phase - ratio) / (1 - ratio);
  const eased = (1 - Math.cos(Math.PI * progress)) / 2;
  return { phase, inhaling, progress, fullness: inhaling ? eased : 1 - eased };
}

/** One `time_sync` round trip: what we sent, what the hub said, when the answer came. */
export interface TimeSyncSample {
  clientTime: number;
  hubTime: number;
  receivedAt: number;
}

/** Keeps the offset from the answer with the smallest round trip, as protocol.md says. */
export class ClockOffset {
  private best: { rttMs: number; offsetMs: number } | null = null;

  /** Adds one answer; returns the offset now in force. */
  add(sample: TimeSyncSample): number {
    const rttMs = Math.max(0, sample.receivedAt - sample.clientTime);
    const offsetMs = sample.hubTime - (sample.clientTime + rttMs / 2);
    if (this.best === null || rttMs <= this.best.rttMs) this.best = { rttMs, offsetMs };
    return this.best.offsetMs;
  }

  /** `hubTime − clientTime`, in ms; 0 until the first answer. */
  get offsetMs(): number {
    return this.best?.offsetMs ?? 0;
  }

  /** Whether any answer has arrived. */
  get known(): boolean {
    return this.best !== null;
  }

  /** The hub's clock now, from the local clock `localNowMs`. */
  hubNow(localNowMs: number): number {
    return localNowMs + this.offsetMs;
  }

  /** Forget everything (after a reconnect the route may have changed). */
  reset(): void {
    this.best = null;
  }
}
