// XML namespaces of RFC 6120 (streams, stanzas, TLS, SASL), XEP-0220 (dialback) and XEP-0085 (chat states).
export const NS = {
  streams: "http://etherx.jabber.org/streams",
  server: "jabber:server",
  client: "jabber:client",
  dialback: "jabber:server:dialback",
  dialbackFeature: "urn:xmpp:features:dialback",
  tls: "urn:ietf:params:xml:ns:xmpp-tls",
  sasl: "urn:ietf:params:xml:ns:xmpp-sasl",
  streamErrors: "urn:ietf:params:xml:ns:xmpp-streams",
  stanzaErrors: "urn:ietf:params:xml:ns:xmpp-stanzas",
  appErrors: "urn:xmpp:errors",
  chatStates: "http://jabber.org/protocol/chatstates",
} as const;
