/**
 * What other apps' tests use of the control plane's (`@aviary/control-plane/testing`): a control
 * plane on a real PostgreSQL, its admin token, and seeding helpers.
 */
export {
  ADMIN_TOKEN,
  fastPlan,
  startTestControlPlane,
  seedModel,
  type ApiResponse,
  type TestControlPlane,
} from './harness';
// The drift check a test runs on demand instead of waiting for its interval.
export { FlagDriftWatcher } from '../src/flags/flag-drift.watcher';
