/** `passerelle partner`: a client of the policy service's admin REST API. */
import type { CommandGroup } from "../command.ts";

export const partner: CommandGroup = {
  name: "partner",
  summary: "administer partners through the policy service's admin API",
  commands: [],
};
