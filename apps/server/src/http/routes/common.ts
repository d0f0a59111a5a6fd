import { ErrorResponse } from '@stock-tracker/protocol';

/** Every route documents the error contract for OpenAPI. */
export const errorResponses = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

/** The user a request acts for: the local default user until accounts arrive. */
export type Owner = () => Promise<{ id: string; username: string }>;
