import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Actor } from '@aviary/domain';
import type { Principal } from '../auth/roles';
import type { AuthedRequest } from '../auth/auth.guard';

/** The authenticated caller, as recorded in audit events. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a public route');
  return principal;
});

/** The authenticated caller as the actor of what it changes (audit log, decision log). */
export const CurrentActor = createParamDecorator((_data: unknown, ctx: ExecutionContext): Actor => {
  const principal = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (!principal) throw new Error('CurrentActor used on a public route');
  return { name: principal.name, automatic: false };
});
