export { connectS2S, verifyDialback } from "./connect.ts";
export type { ConnectOptions, VerifyOptions, VerifyResult, CommonOptions, S2STarget, TlsMaterial, Negotiation, DialbackKeyContext } from "./connect.ts";
export { S2SConnection } from "./connection.ts";
export type { AuthMethod, ConnectionInfo, TlsInfo, S2SConnectionEvents } from "./connection.ts";
export { S2SError, streamErrorFromElement } from "./errors.ts";
export type { S2SErrorKind } from "./errors.ts";
export { certificateMatchesDomain, describeCertificateIdentities, presentedIdentifiers, normalizeDomain, OID_XMPP_ADDR, OID_SRV_NAME } from "./certificate-identity.ts";
export type { PresentedIdentifiers } from "./certificate-identity.ts";
