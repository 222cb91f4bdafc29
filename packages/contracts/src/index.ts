export * from "./subjects.ts";
export * from "./payloads.ts";
export * from "./codec.ts";
