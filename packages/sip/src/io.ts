// The socket side of @passerelle/sip (RFC 3261 §18): import from "@passerelle/sip/io".
export * from "./udp-transport.ts";
export * from "./tcp-transport.ts";
