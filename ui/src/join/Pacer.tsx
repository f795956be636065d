// The shared breathing pacer: a circle that fills on the in-breath and empties on the
// out-breath, in step with every other phone and the projector because it runs on the hub's
// clock. Animated with requestAnimationFrame writing one transform (no re-render per frame).
import { useEffect, useRef, useState } from "preact/hooks";
import type { Pacer as PacerSettings } from "../generated/hub.pacer";
import { breathState } from "../lib/pacer";

export function Pacer(props: { pacer: PacerSettings; hubNow: () => number }) {
  const circle = useRef<HTMLDivElement>(null);
  const [inhaling, setInhaling] = useState(true);
  const inhalingRef = useRef(true);

  useEffect(() => {
    let frame = 0;
    const draw = () => {
      const breath = breathState(props.pacer, props.hubNow());
      const scale = 0.35 + 0.65 * breath.fullness;
      if (circle.current) {
        circle.current.style.transform = `scale(${scale.toFixed(4)})`;
        circle.current.dataset.breathPhase = breath.phase.toFixed(3);
      }
      if (breath.inhaling !== inhalingRef.current) {
        inhalingRef.current = breath.inhaling;
        setInhaling(breath.inhaling);
      }
      frame = requestAnimationFrame(draw);
    };
    frame = requestAnimationFrame(draw);
    return () => cancelAnimationFrame(frame);
  }, [props.pacer, props.hubNow]);

  return (
    <section class="pacer" aria-label="Breathing pacer">
      <div class="pacer-ring">
        <div class="pacer-circle" ref={circle} data-testid="pacer-circle" />
        <p class="pacer-word" aria-live="polite">
          {inhaling ? "Breathe in" : "Breathe out"}
        </p>
      </div>
      <p class="faint pacer-rate">{formatRate(props.pacer.breathsPerMin)} breaths a minute</p>
    </section>
  );
}

function formatRate(breathsPerMin: number): string {
  return Number.isInteger(breathsPerMin) ? String(breathsPerMin) : breathsPerMin.toFixed(1);
}
