/**
 * JSON codecs for NATS payloads. Decoding checks the contract version and the shape that every
 * consumer relies on, and throws `ContractError` otherwise: a bad message is refused (and
 * counted by the caller), never half-processed.
 */

export class ContractError extends Error {
  override name = "ContractError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encode<T extends { v: number }>(payload: T): Uint8Array {
  return encoder.encode(JSON.stringify(payload));
}

/**
 * Decode a payload of contract version 1 and check that `required` fields are present strings,
 * numbers or booleans as the payload type says.
 */
export function decode<T extends { v: number }>(data: Uint8Array, required: readonly (keyof T & string)[]): T {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new ContractError(`payload is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ContractError("payload is not an object");
  }
  const record = value as Record<string, unknown>;
  if (record.v !== 1) throw new ContractError(`unsupported contract version ${String(record.v)}`);
  const missing = required.filter((key) => record[key] === undefined || record[key] === null);
  if (missing.length > 0) throw new ContractError(`payload lacks ${missing.join(", ")}`);
  return value as T;
}
