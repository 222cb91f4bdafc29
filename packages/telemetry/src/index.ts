export * from "./logger.ts";
export * from "./tracing.ts";
export * from "./metrics.ts";
