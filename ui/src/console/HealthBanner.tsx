// The red banner across the console when the hub cannot do its job: the store cannot write
// (disk full, read-only, locked), the disk is nearly full, the engine stopped, or held-back
// records are being dropped. Each line is the hub's own reason and what to do about it, from
// `GET /health`, polled every few seconds so the banner also goes away by itself on recovery.
import type { HubApi } from "../backend/api";
import { usePoll } from "./hooks";

export function HealthBanner(props: { api: HubApi }) {
  const health = usePoll(() => props.api.health(), 3_000);
  const problems = health.data?.problems ?? [];
  if (problems.length === 0) return null;
  return (
    <section class="health-banner" role="alert" data-testid="health-banner">
      <strong>The hub needs attention</strong>
      <ul>
        {problems.map((problem) => (
          <li key={problem.code}>
            <span class="health-reason">{problem.message}</span>
            <span class="health-advice">What to do: {problem.advice}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
