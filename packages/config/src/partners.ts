/** Partner lookup by primary or additional domain (pure; rebuilt on each change, see runtime's LivePartners). */
import type { Partner } from "./load.ts";

export class PartnerDirectory {
  private readonly byDomain = new Map<string, Partner>();

  constructor(partners: readonly Partner[]) {
    for (const p of partners) {
      this.byDomain.set(p.domain, p);
      for (const d of p.additionalDomains) this.byDomain.set(d, p);
    }
  }

  /** The partner entry that covers `domain` (primary or additional), if any. */
  find(domain: string): Partner | undefined {
    return this.byDomain.get(domain.toLowerCase());
  }

  /** Every entry once (in insertion order). */
  all(): Partner[] {
    return [...new Set(this.byDomain.values())];
  }

  get size(): number {
    return this.byDomain.size;
  }
}
