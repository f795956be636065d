// How participants find the room: the room code in large type, the join URL, and its QR code;
// and, when the room has reached its participant limit, that new phones are being turned away.
import { useMemo } from "preact/hooks";
import type { HubInfo } from "../generated/rest.hub_info";
import { qrPath } from "../lib/qr";

export function JoinCard(props: { hub: HubInfo }) {
  const { hub } = props;
  const qr = useMemo(() => qrPath(hub.joinUrl), [hub.joinUrl]);
  return (
    <section class="card join-card" aria-labelledby="join-heading">
      <h2 id="join-heading">Join this room</h2>
      <div class="join-body">
        <div>
          <p class="faint small-label">Room code</p>
          <p class="room-code tabular" data-testid="room-code">{hub.roomCode ?? "none needed"}</p>
          <p class="join-url">
            <span class="faint small-label">Or open </span>
            <a href={hub.joinUrl} target="_blank" rel="noreferrer" data-testid="join-url">{hub.joinUrl}</a>
          </p>
        </div>
        <svg class="qr" viewBox={`0 0 ${qr.size} ${qr.size}`} role="img" aria-label={`QR code for ${hub.joinUrl}`} shape-rendering="crispEdges">
          <rect width={qr.size} height={qr.size} fill="#fff" />
          <path d={qr.d} fill="#000" />
        </svg>
      </div>
      {hub.capacity.full && (
        <p class="problem" role="alert" data-testid="room-full">
          The room is full: {hub.capacity.participants} of {hub.capacity.maxParticipants} participants. New phones are
          turned away until someone leaves (raise the limit with <code>--max-participants</code>).
        </p>
      )}
    </section>
  );
}
