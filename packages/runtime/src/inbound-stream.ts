/**
 * The JetStream stream that holds accepted inbound stanzas until policy has handled them (ADR
 * 0003). Work-queue retention: a message is removed once acknowledged; file storage: survives a
 * NATS restart; a 2-minute de-duplication window on the message id, so an edge that retries a
 * publish never delivers a stanza twice.
 */
import { jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy, AckPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { INBOUND_STREAM, subjects } from "@passerelle/contracts";

export const POLICY_CONSUMER = "policy";

export async function ensureInboundStream(nc: NatsConnection): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: INBOUND_STREAM,
    subjects: [subjects.inboundStanzaAll],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    max_msgs: 1_000_000,
    max_bytes: 1024 * 1024 * 1024,
    duplicate_window: nanos(120_000),
  };
  try {
    await jsm.streams.info(INBOUND_STREAM);
  } catch {
    try {
      await jsm.streams.add(config);
    } catch (err) {
      // Another replica created it in between: that is fine.
      await jsm.streams.info(INBOUND_STREAM).catch(() => {
        throw err;
      });
    }
  }
  return jsm;
}

export async function ensurePolicyConsumer(jsm: JetStreamManager, ackWaitMs: number): Promise<void> {
  const config = {
    durable_name: POLICY_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ackWaitMs),
    max_deliver: 10,
    max_ack_pending: 512,
  };
  try {
    await jsm.consumers.info(INBOUND_STREAM, POLICY_CONSUMER);
    await jsm.consumers.update(INBOUND_STREAM, POLICY_CONSUMER, { ack_wait: config.ack_wait, max_deliver: config.max_deliver, max_ack_pending: config.max_ack_pending });
  } catch {
    await jsm.consumers.add(INBOUND_STREAM, config).catch(async (err: unknown) => {
      await jsm.consumers.info(INBOUND_STREAM, POLICY_CONSUMER).catch(() => {
        throw err;
      });
    });
  }
}
