/**
 * The gateway configuration file: its schema, with Lync Server 2013's defaults for the
 * gateway-wide and per-partner settings. Every service reads the same file; each uses the part
 * it needs. Documented field by field in docs/configuration.md.
 */
import { z } from "zod";

const negotiation = z.enum(["required", "optional", "not-supported"]);

const hostPort = (defaultHost: string, defaultPort: number) =>
  z
    .object({
      host: z.string().min(1).default(defaultHost),
      port: z.number().int().min(0).max(65535).default(defaultPort),
    })
    .strict()
    .prefault({});

const domainName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i, "not a valid DNS domain name")
  .transform((s) => s.toLowerCase());

export const partnerSchema = z
  .object({
    /** Primary domain (required). */
    domain: domainName,
    description: z.string().max(1024).default(""),
    /** Other domains of the same partner, allowed too (e.g. sub-domains). */
    additionalDomains: z.array(domainName).default([]),
    type: z.enum(["federated", "public-verified", "public-unverified"]),
    tls: negotiation.default("required"),
    sasl: negotiation.default("optional"),
    dialback: z.boolean().default(true),
    /** Lync: 20 connections per partner. */
    connectionLimit: z.number().int().min(1).max(10000).default(20),
    keepalive: z.boolean().default(true),
    /** Connect here instead of resolving the partner's SRV records. */
    proxyFqdn: domainName.optional(),
    proxyPort: z.number().int().min(1).max(65535).default(5269),
  })
  .strict();

export const localDomainSchema = z
  .object({
    /** Our XMPP domain, as partners address us (e.g. contoso.com). */
    xmpp: domainName,
    /** The internal SIP domain its users live in; the same by default. */
    sip: domainName.optional(),
  })
  .strict();

const serviceHttp = (port: number) => z.object({ http: hostPort("127.0.0.1", port) }).strict();

export const configSchema = z
  .object({
    domains: z.array(localDomainSchema).min(1, "at least one local domain is needed"),
    gateway: z
      .object({
        /** The edge's public name: target of our SRV records, name in our certificate. */
        edgeFqdn: domainName,
        dialback: z
          .object({
            secret: z.string().min(16, "the dialback secret must be at least 16 characters").optional(),
            secretFile: z.string().min(1).optional(),
          })
          .strict()
          .refine((d) => d.secret !== undefined || d.secretFile !== undefined, {
            message: "set gateway.dialback.secret or gateway.dialback.secretFile",
          }),
        limits: z
          .object({
            /** Lync: 1000 connections in all, 20 per partner. */
            connectionLimit: z.number().int().min(1).default(1000),
            maxStanzaBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
            maxDepth: z.number().int().min(4).max(1000).default(64),
            maxAttributesPerElement: z.number().int().min(4).max(1000).default(64),
            /** Bytes a connection may send before it has authenticated. */
            preAuthBytes: z.number().int().min(1024).default(64 * 1024),
            /** Stanzas per second one inbound stream may send before it is slowed down. */
            stanzasPerSecondPerStream: z.number().int().min(1).default(2000),
          })
          .strict()
          .prefault({}),
        timeouts: z
          .object({
            /** Seconds. Lync's defaults. */
            keepaliveInterval: z.number().int().min(1).default(300),
            streamEstablishment: z.number().int().min(1).default(60),
            streamInactivity: z.number().int().min(1).default(600),
            subscriptionRefresh: z.number().int().min(60).default(28800),
          })
          .strict()
          .prefault({}),
        /** Lync logs no message bodies unless told to. */
        logMessageBodies: z.boolean().default(false),
        /** Whether an internal user without an explicit setting may use XMPP (Lync's EnableXmppAccess). */
        xmppAccessDefault: z.boolean().default(true),
      })
      .strict(),
    edge: z
      .object({
        listen: hostPort("0.0.0.0", 5269),
        tls: z
          .object({
            certFile: z.string().min(1),
            keyFile: z.string().min(1),
            /** CA bundle to verify partners' certificates; the system's CAs when absent. */
            caFile: z.string().min(1).optional(),
          })
          .strict()
          .optional(),
        /**
         * XEP-0368 direct TLS for inbound s2s: a second port where TLS starts on connect (ALPN
         * `xmpp-server`), published as `_xmpps-server._tcp`. Needs `tls`. Absent: no such port.
         */
        directTls: z
          .object({
            host: z.string().min(1).default("0.0.0.0"),
            port: z.number().int().min(0).max(65535).default(5270),
          })
          .strict()
          .optional(),
      })
      .strict()
      .refine((edge) => edge.directTls === undefined || edge.tls !== undefined, {
        message: "edge.directTls needs a certificate: set edge.tls",
        path: ["directTls"],
      })
      .prefault({}),
    nats: z.object({ url: z.string().min(1).default("nats://127.0.0.1:4222") }).strict().prefault({}),
    redis: z.object({ url: z.string().min(1).default("redis://127.0.0.1:6379") }).strict().prefault({}),
    dns: z
      .object({
        /** "host:port" of a DNS server to ask instead of the system's (tests point it at their bind9). */
        server: z.string().min(1).optional(),
        /** Publish our `_xmpp-server._tcp` SRV records by RFC 2136 dynamic update signed with TSIG (the dns-registrar does). */
        publish: z
          .object({
            /** "IP:port" of the zones' authoritative (primary) server. */
            server: z.string().min(1),
            /** Zone of each local domain; a domain not listed: the closest enclosing zone the server has a SOA for. */
            zones: z.record(z.string(), domainName).default({}),
            tsig: z
              .object({
                name: domainName,
                algorithm: z.literal("hmac-sha256").default("hmac-sha256"),
                /** File with the base64 secret, or `tsig-keygen`'s `key { … secret "…"; };` clause. Never inline. */
                secretFile: z.string().min(1),
              })
              .strict(),
            ttl: z.number().int().min(0).max(86400).default(300),
            priority: z.number().int().min(0).max(65535).default(0),
            weight: z.number().int().min(0).max(65535).default(5),
            /** Seconds between checks of our records as the server has them (drift repaired, reported); also at start and on changes. */
            checkInterval: z.number().int().min(5).max(86400).default(300),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    sip: z
      .object({
        proxy: z
          .object({
            host: z.string().min(1),
            port: z.number().int().min(1).max(65535).default(5060),
            transport: z.enum(["udp", "tcp"]).default("udp"),
          })
          .strict(),
        listen: z
          .object({
            host: z.string().min(1).default("127.0.0.1"),
            port: z.number().int().min(0).max(65535).default(5070),
            transport: z.enum(["udp", "tcp"]).default("udp"),
          })
          .strict()
          .prefault({}),
        /** Seconds to wait for a final SIP answer before telling the XMPP sender. */
        requestTimeout: z.number().min(1).max(120).default(32),
      })
      .strict(),
    partners: z.array(partnerSchema).default([]),
    services: z
      .object({
        edgeListener: serviceHttp(9101).prefault({}),
        dialbackAuthority: serviceHttp(9102).prefault({}),
        policy: z
          .object({
            http: hostPort("127.0.0.1", 9103),
            /** The partner administration gRPC API (proto/passerelle/admin/v1/partners.proto). */
            grpc: hostPort("127.0.0.1", 9113),
            /**
             * The admin REST API again, over TLS, where a client certificate signed by clientCaFile
             * authenticates the caller (actor: its subject CN). Absent: no TLS listener.
             */
            adminTls: z
              .object({
                host: z.string().min(1).default("127.0.0.1"),
                port: z.number().int().min(0).max(65535).default(9123),
                certFile: z.string().min(1),
                keyFile: z.string().min(1),
                clientCaFile: z.string().min(1),
                /** false: a request without a valid client certificate may still present a bearer token. */
                requireClientCert: z.boolean().default(true),
              })
              .strict()
              .optional(),
          })
          .strict()
          .prefault({}),
        sipTranslator: serviceHttp(9104).prefault({}),
        dnsRegistrar: serviceHttp(9105).prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type PartnerConfig = z.output<typeof partnerSchema>;
export type PartnerType = PartnerConfig["type"];
