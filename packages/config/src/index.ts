export * from "./negotiation.ts";
export * from "./schema.ts";
export * from "./load.ts";
export * from "./partners.ts";
export * from "./partner-entry.ts";
export * from "./file-stamp.ts";
