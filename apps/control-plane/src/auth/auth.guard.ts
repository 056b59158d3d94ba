import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ProblemException } from '../common/problem';
import { PUBLIC_ROUTE, REQUIRED_ROLE, type Principal, type Role, roleSatisfies } from './roles';
import { TokensService } from './tokens.service';

export type AuthedRequest = Request & { principal?: Principal };

/** Bearer tokens (Unleash clients send the bare token, which is accepted too). 401 unknown, 403 too weak. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokensService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const need = this.reflector.getAllAndOverride<Role>(REQUIRED_ROLE, targets) ?? 'viewer';
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization?.trim();
    if (!header) {
      throw new ProblemException(
        401,
        'UNAUTHENTICATED',
        'Unauthenticated',
        'send an API token: Authorization: Bearer <token>',
        undefined,
        {},
      );
    }
    const presented = header.replace(/^Bearer\s+/i, '');
    const principal = await this.tokens.authenticate(presented);
    if (!principal)
      throw new ProblemException(
        401,
        'UNAUTHENTICATED',
        'Unauthenticated',
        'the API token is unknown or revoked',
      );
    if (!roleSatisfies(principal.role, need)) {
      throw new ProblemException(
        403,
        'FORBIDDEN',
        'Forbidden',
        `this action needs the ${need} role; token ${JSON.stringify(principal.name)} has ${principal.role}`,
      );
    }
    req.principal = principal;
    return true;
  }
}
