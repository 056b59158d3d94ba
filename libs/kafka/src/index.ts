export * from './in-process-event-bus';
export * from './kafka-admin';
export type { ISocketFactory, KafkaConnectionOptions, SASLOptions } from './kafka-client';
export * from './kafka-event-publisher';
export * from './kafka-event-subscriber';
export * from './kafka-env';
