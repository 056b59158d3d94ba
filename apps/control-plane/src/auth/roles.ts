import { SetMetadata } from '@nestjs/common';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** admin can do what operator can, operator what viewer can. */
export function roleSatisfies(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export const REQUIRED_ROLE = 'aviary:required-role';
export const PUBLIC_ROUTE = 'aviary:public';

/** The minimum role a route needs. Routes without it need `viewer`. */
export const RequireRole = (role: Role) => SetMetadata(REQUIRED_ROLE, role);
/** Health, metrics and API docs: no token. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

export interface Principal {
  readonly tokenId: string;
  readonly name: string;
  readonly role: Role;
}
