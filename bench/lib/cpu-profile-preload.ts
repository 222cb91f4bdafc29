// Loaded into each gateway service by `bench/inbound.ts --cpu-prof` (NODE_OPTIONS="--import …":
// Node 20 refuses --cpu-prof itself in NODE_OPTIONS). Starts V8's sampling profiler at once and
// writes `<service>-<pid>.cpuprofile` into PASSERELLE_CPU_PROF_DIR when the process exits.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env["PASSERELLE_CPU_PROF_DIR"];
if (dir !== undefined) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 200 });
  session.post("Profiler.start");
  process.on("exit", () => {
    // A same-thread session answers synchronously, so this runs before the process is gone.
    session.post("Profiler.stop", (err, result) => {
      if (err !== null) return;
      const name = (process.env["POD_NAME"] ?? "node").replace(/[^\w.-]/g, "_");
      writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
