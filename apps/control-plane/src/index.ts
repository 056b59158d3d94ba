// The control plane's public entry point (`@aviary/control-plane`): what another app — the
// embedded all-in-one process — may use. Everything else under src/ is the control plane's own.
export { startControlPlane, readStoredAdminToken, type RunningControlPlane } from './control-plane';
export { loadControlPlaneConfig, type ControlPlaneConfig } from './config/control-plane.config';
// The services the embedded setup drives in-process (seed models, viewer and router tokens).
export { PRISMA } from './database/database.tokens';
export { TokensService } from './auth/tokens.service';
export { ModelsService } from './models/models.service';
export { RouterKeysService } from './router-keys/router-keys.service';
