/**
 * The last chat state sent on each conversation, so the same standalone notification is not sent
 * twice in a row (XEP-0085 §5.3). Both directions need it: RFC 3994 refreshes "active" while the
 * SIP user types (each refresh would be another <composing/>), and XEP-0085's paused, inactive
 * and gone all map to RFC 3994 "idle" (each would be another idle MESSAGE).
 *
 * A state older than `ttlMs` is forgotten, so a repeat after it goes out again (XMPP → SIP: it
 * refreshes the SIP side's "composing", which times out after the refresh interval). Bounded:
 * the least recently used conversation is dropped past `maxEntries`. Per replica: with several
 * translator replicas a repeat handled by another replica is sent (harmless, as before).
 */
export interface ChatStateMemoryOptions {
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly now?: () => number;
}

export class ChatStateMemory {
  private readonly last = new Map<string, { state: string; at: number }>();

  constructor(private readonly o: ChatStateMemoryOptions) {}

  /** Whether `state` is the one last sent on this conversation, within the TTL. */
  isRepeat(conversation: string, state: string): boolean {
    const entry = this.last.get(conversation);
    if (entry === undefined) return false;
    if (this.now() - entry.at >= this.o.ttlMs) {
      this.last.delete(conversation);
      return false;
    }
    return entry.state === state;
  }

  /** Records what was sent (a text message records the state it implies). */
  sent(conversation: string, state: string): void {
    this.last.delete(conversation);
    this.last.set(conversation, { state, at: this.now() });
    if (this.last.size > this.o.maxEntries) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
  }

  get size(): number {
    return this.last.size;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}

/** A conversation key from two JIDs, resources dropped. */
export function conversationOf(from: string, to: string): string {
  const bare = (jid: string) => {
    const slash = jid.indexOf("/");
    return (slash < 0 ? jid : jid.slice(0, slash)).toLowerCase();
  };
  return `${bare(from)}|${bare(to)}`;
}
