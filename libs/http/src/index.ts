export * from './client-errors';
