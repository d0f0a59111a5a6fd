import { ErrorResponse } from '@stock-tracker/protocol';

/** Every route documents the error contract for OpenAPI. */
export const errorResponses = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

/** The user a request acts for: the token's user with accounts, the local default user without. */
export type { Owner } from '../auth.ts';
