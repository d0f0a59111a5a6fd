/**
 * OpenAPI document generated from the route schemas (the TypeBox schemas of
 * packages/protocol/src/rest.ts): JSON at /api/docs/json, Swagger UI at /api/docs.
 */
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'stock-tracker API',
        version: pkg.version,
        description:
          'Real-time stock market tracker. Every 4xx/5xx answers with the error contract `{code, message, request_id, details?}` and an `X-Request-ID` header. See docs/api.md.',
      },
      tags: [
        { name: 'symbols' },
        { name: 'quotes' },
        { name: 'trades' },
        { name: 'bars' },
        { name: 'session' },
        { name: 'foreign' },
        { name: 'indices' },
        { name: 'indicators' },
        { name: 'market' },
        { name: 'alerts' },
        { name: 'watchlists' },
        { name: 'trading', description: 'Paper trading (docs/trading.md)' },
        { name: 'auth' },
        { name: 'health' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from /api/auth/login (AUTH_MODE=accounts).' },
        },
      },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    // No third-party validator badge: the CSP allows own images only.
    uiConfig: { validatorUrl: null, deepLinking: true },
    staticCSP: false,
  });
}
