export * from './env';
export * from './upstream-credentials';
export * from './shutdown';
