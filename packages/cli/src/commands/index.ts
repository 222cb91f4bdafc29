/** The command groups, one line each; `passerelle --help` lists them in this order. */
export { cert } from "./cert.ts";
export { partner } from "./partner.ts";
export { settings } from "./settings.ts";
export { user } from "./user.ts";
export { check } from "./check.ts";
export { audit } from "./audit.ts";
