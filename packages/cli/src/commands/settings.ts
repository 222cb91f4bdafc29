/** `passerelle settings`: a client of the policy service's admin REST API. */
import type { CommandGroup } from "../command.ts";

export const settings: CommandGroup = {
  name: "settings",
  summary: "administer settingss through the policy service's admin API",
  commands: [],
};
