export * from './env';
export * from './upstream-credentials';
