export * from './flags.errors';
export * from './unleash-feature.encoding';
export * from './unleash-flag-publisher';
export * from './unleash-client-lifecycle';
