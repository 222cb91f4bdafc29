// Test driver: runs the translator's SIP side and delivery handler for a few requests and prints
// the results as one JSON line. Used by kamailio.e2e.test.ts to run inside a network namespace.
import type { SipDeliveryRequest, SipDeliveryResult } from "@passerelle/contracts";
import { SipSide, type SipSideOptions } from "../adapters/sip-side.ts";
import { DeliveryHandler } from "../delivery.ts";
import { AddressMapper, type DomainPair } from "../domain/address-mapping.ts";

interface DriverInput {
  listen: SipSideOptions["listen"];
  proxy: SipSideOptions["proxy"];
  timeoutMs: number;
  domains: DomainPair[];
  requests: SipDeliveryRequest[];
}

const input = JSON.parse(process.argv[2] ?? "{}") as DriverInput;
const side = await SipSide.start({ listen: input.listen, proxy: input.proxy, timeoutMs: input.timeoutMs });
const handler = new DeliveryHandler({
  mapper: new AddressMapper(input.domains),
  gatewayHost: "gw.test",
  stanzaLimits: { maxStanzaBytes: 65536, maxDepth: 16, maxAttributesPerElement: 16, maxHeaderBytes: 4096 },
  maxSipBytes: 65536,
  send: (r) => side.send(r),
});
const results: SipDeliveryResult[] = [];
for (const request of input.requests.slice(0, 20)) results.push(await handler.deliver(request));
await side.stop();
process.stdout.write(JSON.stringify(results) + "\n");
