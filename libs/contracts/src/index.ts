export * from './events';
export * from './version-prompt';
