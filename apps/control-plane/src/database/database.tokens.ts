/** DI token for the PrismaClient created at boot (embedded or external PostgreSQL). */
export const PRISMA = Symbol('PRISMA');
