/** Values the global setup (test/global-setup.ts) provides to every test file via `inject()`. */
declare module 'vitest' {
  export interface ProvidedContext {
    /** The per-run PostgreSQL database (migrations not applied: call migrate()). */
    databaseUrl: string;
    /** Admin URL of the same server (database `postgres`), for CREATE/DROP DATABASE. */
    pgAdminUrl: string;
    redisUrl: string;
  }
}

export {};
