// The router's public entry point (`@aviary/router`): what another app — the embedded all-in-one
// process — may use. Everything else under src/ is the router's own.
export { startRouter, configuredLog, type Log, type RunningRouter } from './router';
export { pinoLog } from './http/router-log';
export { loadRouterConfig, type RouterConfig } from './config/router.config';
