/** A string that is not a valid JID (RFC 7622), or a part that cannot be escaped (XEP-0106). */
export class JidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JidError";
  }
}
