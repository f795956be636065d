// How numbers, times and enum values read on screen: one place, so the console, the join page
// and their tests agree. Text is plain English for a non-technical facilitator.
import type { IntentionCategory } from "../generated/client.join_session";
import { coherenceBands } from "../generated/coherence_bands";
import type { CoherencePhase } from "../generated/hub.personal_feedback";
import type { StrapState } from "../generated/rest.strap_list";

/** `m:ss` for durations under an hour, `h:mm:ss` above; negative counts as 0. */
export function formatDuration(ms: number): string {
  const totalSecs = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(totalSecs / 3600);
  const minutes = Math.floor((totalSecs % 3600) / 60);
  const seconds = totalSecs % 60;
  const ss = String(seconds).padStart(2, "0");
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, "0")}:${ss}`;
  return `${minutes}:${ss}`;
}

/** A coherence score (0–100) as a whole number, or an en dash when absent. */
export function formatScore(score: number | null | undefined): string {
  if (score === null || score === undefined || !Number.isFinite(score)) return "–";
  return String(Math.round(score));
}

/** A 0..1 fraction as a percentage. */
export function formatPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return "–";
  return `${Math.round(fraction * 100)}%`;
}

/** A 0..1 index with two decimals (synchrony). */
export function formatIndex(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return value.toFixed(2);
}

/** Date and time of day for history rows, in the browser's locale and time zone. */
export function formatDateTime(epochMs: number, locale?: string): string {
  return new Date(epochMs).toLocaleString(locale, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** Bytes as KiB/MiB/GiB with one decimal. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Thousands separators, locale-independent (a thin space reads well from 2 m). */
export function formatCount(count: number): string {
  return String(Math.round(count)).replace(/\B(?=(\d{3})+(?!\d))/g, "\u2009");
}

const phaseLabels: Record<string, string> = {
  preparation: "Preparation",
  active: "Active",
  integration: "Integration",
  complete: "Complete",
  none: "No session",
};

/** A session phase for people. */
export function phaseLabel(phase: string | null | undefined): string {
  if (!phase) return "No session";
  return phaseLabels[phase] ?? capitalise(phase);
}

/** The original platform's intention categories, in its order, as people read them. */
export const intentionLabels: Record<IntentionCategory, string> = {
  physical_healing: "Physical healing",
  emotional_release: "Emotional release",
  anxiety: "Anxiety",
  abundance: "Abundance",
  energy: "Energy",
  grief: "Grief",
  other: "Something else",
};

/** The categories in the original platform's order. */
export const intentionCategories = Object.keys(intentionLabels) as IntentionCategory[];

/** An intention category for people. */
export function intentionLabel(category: string): string {
  return intentionLabels[category as IntentionCategory] ?? capitalise(category.replace(/_/g, " "));
}

const sourceLabels: Record<string, string> = {
  ios: "phone",
  android: "phone",
  web: "browser",
  ble: "strap",
  sim: "simulated",
  other: "other",
};

/** Where a participant's data comes from: phone, strap, browser. */
export function sourceLabel(kind: string): string {
  return sourceLabels[kind] ?? kind;
}

const strapStateLabels: Record<StrapState, string> = {
  discovered: "found, not in use",
  connected: "connected",
  no_contact: "no skin contact",
  reconnecting: "reconnecting",
  no_free_connection: "heard, no free connection",
};

/** What a hub-read strap is doing, for people. */
export function strapStateLabel(state: string): string {
  return strapStateLabels[state as StrapState] ?? state;
}

const qualityLabels: Record<string, string> = {
  good: "good signal",
  low: "weak signal",
  warming_up: "warming up",
};

/** Signal quality for people. */
export function qualityLabel(quality: string | null | undefined): string {
  if (!quality) return "score only";
  return qualityLabels[quality] ?? quality;
}

/**
 * The band of a score, as the hub computes it (low < 40 ≤ medium < 60 ≤ high): the thresholds
 * come from the generated wire types, so they are the hub's own numbers.
 */
export function coherenceBand(score: number): CoherencePhase {
  if (score >= coherenceBands.highMinScore) return "high";
  if (score >= coherenceBands.mediumMinScore) return "medium";
  return "low";
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A message from the hub as a sentence: capitalised, ending in a full stop. */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === "") return trimmed;
  const capitalised = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}
