/**
 * Request validation with two Ajv setups (the compiler Fastify itself uses):
 * query strings and path params arrive as text, so they are coerced to the
 * schema's types; JSON bodies are typed already and are validated strictly —
 * `{"name": 0}` is an error, not the string "0". Unknown body properties are
 * rejected rather than silently dropped. Bodies get no schema defaults: a
 * PATCH must change only what it names (AlertRuleUpdate inherits the create
 * defaults `enabled: true`, `cooldownMs`), and storage applies create defaults.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import type { FastifySchemaCompiler } from 'fastify';

const BASE = { removeAdditional: false, allErrors: false } as const;

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const factory = AjvCompiler();
  const coercing = factory({}, { customOptions: { ...BASE, useDefaults: true, coerceTypes: 'array' }, plugins: [] });
  const strict = factory({}, { customOptions: { ...BASE, useDefaults: false, coerceTypes: false }, plugins: [] });
  return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route)) as ReturnType<FastifySchemaCompiler<unknown>>;
}
