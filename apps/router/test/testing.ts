/**
 * What other apps' tests use of the router's (`@aviary/router/testing`): a control plane, two demo
 * model servers and a router, with the router's evidence captured.
 */
export { startStack, step, rest, SECRET, type Stack } from './stack';
