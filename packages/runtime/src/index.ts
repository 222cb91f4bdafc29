export * from "./bus.ts";
export * from "./http.ts";
export * from "./service.ts";
export * from "./inbound-stream.ts";
export * from "./live-partners.ts";
export { requestMux, RequestMux, NoRespondersError, RequestTimeoutError } from "./request-mux.ts";
