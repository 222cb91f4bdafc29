/** `passerelle cert request|import`: the edge's key, CSR and certificate. */
import type { CommandGroup } from "../command.ts";
import { CliError } from "../errors.ts";

export const cert: CommandGroup = {
  name: "cert",
  summary: "make a key and CSR for the edge, or check and assign a signed certificate",
  commands: [
    {
      name: "request",
      summary: "make a key and a PKCS#10 CSR with SANs from the configuration",
      options: {},
      run: async () => {
        throw new CliError("not built yet");
      },
    },
    {
      name: "import",
      summary: "check a certificate chain and key, then assign them to the edge",
      options: {},
      run: async () => {
        throw new CliError("not built yet");
      },
    },
  ],
};
