/**
 * Request validation with two Ajv setups (the compiler Fastify itself uses):
 * query strings and path params arrive as text, so they are coerced to the
 * schema's types; JSON bodies are typed already and are validated strictly —
 * `{"name": 0}` is an error, not the string "0". Unknown body properties are
 * rejected rather than silently dropped.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import type { FastifySchemaCompiler } from 'fastify';

const BASE = { removeAdditional: false, useDefaults: true, allErrors: false } as const;

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const factory = AjvCompiler();
  const coercing = factory({}, { customOptions: { ...BASE, coerceTypes: 'array' }, plugins: [] });
  const strict = factory({}, { customOptions: { ...BASE, coerceTypes: false }, plugins: [] });
  return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route)) as ReturnType<FastifySchemaCompiler<unknown>>;
}
