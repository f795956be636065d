// What the join page keeps in localStorage so a participant survives a Wi-Fi drop or a page
// reload: a stable userId (as the original web client kept), and the resume token from the
// last `session_joined` together with the choices made on the form. The token is only offered
// back to the same room; the hub decides whether it is still valid (60 s grace) and an expired
// one is harmless: the hub simply joins us as new.

/** The join form's answers. */
export interface JoinChoice {
  roomCode: string;
  intention: string | null;
  consentResearch: boolean;
  strapCode: string | null;
}

/** The stored record. */
export interface ResumeRecord {
  choice: JoinChoice;
  resumeToken: string | null;
  participantId: string | null;
  savedAtMs: number;
  /** The token of the last completed session, which opens "Your session" until `reportUntilMs`
   *  (the hub's 24 hours after the end), also after a reload. */
  reportToken?: string | null;
  reportUntilMs?: number | null;
}

export const USER_ID_KEY = "synchub.userId";
export const RESUME_KEY = "synchub.resume";
/** A stored record older than this is not used to rejoin by itself after a reload. */
export const AUTO_REJOIN_MAX_AGE_MS = 30 * 60 * 1000;
/** How long after its end a session's report opens with its token (the hub's rule). */
export const REPORT_LIFETIME_MS = 24 * 60 * 60 * 1000;

type KeyValue = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export class ResumeStore {
  constructor(
    private readonly storage: KeyValue,
    private readonly now: () => number = Date.now,
    private readonly newId: () => string = randomId,
  ) {}

  /** This browser's stable id, created on first use. */
  userId(): string {
    let id = this.storage.getItem(USER_ID_KEY);
    if (id === null || id === "") {
      id = this.newId();
      this.storage.setItem(USER_ID_KEY, id);
    }
    return id;
  }

  load(): ResumeRecord | null {
    const text = this.storage.getItem(RESUME_KEY);
    if (text === null) return null;
    try {
      const record = JSON.parse(text) as ResumeRecord;
      if (typeof record?.choice?.roomCode !== "string") return null;
      return record;
    } catch {
      return null;
    }
  }

  /** The token to offer when joining `roomCode`, if we hold one for that room. */
  tokenFor(roomCode: string): string | null {
    const record = this.load();
    if (record === null || record.resumeToken === null) return null;
    return sameRoom(record.choice.roomCode, roomCode) ? record.resumeToken : null;
  }

  /** Remember the form's answers (before the hub answered). */
  saveChoice(choice: JoinChoice): void {
    const previous = this.load();
    const keepToken = previous !== null && sameRoom(previous.choice.roomCode, choice.roomCode);
    this.write({
      choice,
      resumeToken: keepToken ? previous.resumeToken : null,
      participantId: keepToken ? previous.participantId : null,
      savedAtMs: this.now(),
      reportToken: previous?.reportToken ?? null,
      reportUntilMs: previous?.reportUntilMs ?? null,
    });
  }

  /** Remember the token of a `session_joined`. */
  saveJoined(choice: JoinChoice, resumeToken: string, participantId: string): void {
    const previous = this.load();
    this.write({
      choice,
      resumeToken,
      participantId,
      savedAtMs: this.now(),
      reportToken: previous?.reportToken ?? null,
      reportUntilMs: previous?.reportUntilMs ?? null,
    });
  }

  /** The session completed: its token rejoins nothing any more, but opens the participant's
   *  report for a day, so it is kept for that (a reload of the page shows it again). Returns it. */
  sessionCompleted(roomCode: string): string | null {
    const record = this.load();
    const token = this.tokenFor(roomCode);
    if (record === null) return null;
    this.write({
      ...record,
      resumeToken: null,
      participantId: null,
      reportToken: token ?? record.reportToken ?? null,
      reportUntilMs: token !== null ? this.now() + REPORT_LIFETIME_MS : (record.reportUntilMs ?? null),
    });
    return token;
  }

  /** The token that opens the last completed session's report, while it still does. */
  reportToken(): string | null {
    const record = this.load();
    if (record?.reportToken == null || record.reportUntilMs == null) return null;
    return this.now() < record.reportUntilMs ? record.reportToken : null;
  }

  /** The session is over: the token is of no further use, the choices still are. */
  dropToken(): void {
    const record = this.load();
    if (record === null) return;
    this.write({ ...record, resumeToken: null, participantId: null });
  }

  /** The choices to rejoin with by themselves after a reload, if recent and for this room. */
  autoRejoinChoice(roomFromUrl: string | null): JoinChoice | null {
    const record = this.load();
    if (record === null || record.resumeToken === null) return null;
    if (this.now() - record.savedAtMs > AUTO_REJOIN_MAX_AGE_MS) return null;
    if (roomFromUrl !== null && !sameRoom(roomFromUrl, record.choice.roomCode)) return null;
    return record.choice;
  }

  /** Refresh the record's age while connected, so a long session stays resumable. */
  touch(): void {
    const record = this.load();
    if (record !== null) this.write({ ...record, savedAtMs: this.now() });
  }

  forget(): void {
    this.storage.removeItem(RESUME_KEY);
  }

  private write(record: ResumeRecord): void {
    this.storage.setItem(RESUME_KEY, JSON.stringify(record));
  }
}

/** Room codes compare without surrounding spaces (people type them from a screen). The hub
 *  compares them exactly, so case is kept. */
export function normaliseRoomCode(code: string): string {
  return code.trim();
}

function sameRoom(a: string, b: string): boolean {
  return normaliseRoomCode(a) === normaliseRoomCode(b);
}

function randomId(): string {
  // randomUUID exists only in secure contexts (https, localhost); the join page is plain http
  // on a LAN address, so fall back to getRandomValues.
  if (typeof crypto.randomUUID === "function" && globalThis.isSecureContext) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
