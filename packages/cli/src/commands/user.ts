/** `passerelle user`: a client of the policy service's admin REST API. */
import type { CommandGroup } from "../command.ts";

export const user: CommandGroup = {
  name: "user",
  summary: "administer users through the policy service's admin API",
  commands: [],
};
