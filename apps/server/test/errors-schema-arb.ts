/**
 * fast-check arbitraries that violate a JSON Schema (the TypeBox schemas of
 * packages/protocol/src/rest.ts): every generated value breaks at least one
 * constraint of the schema, so a request carrying it must be refused.
 * `violatingText` is for query strings and path segments (which the server
 * coerces from text); `violatingJson` is for JSON body fields (typed, strict).
 */
import fc from 'fast-check';

type Schema = {
  type?: string;
  anyOf?: Schema[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  items?: Schema;
  maxItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
};

const INJECTIONS = ["'; DROP TABLE trades;--", '" OR 1=1 --', '<script>x</script>', '../../etc/passwd', '%00'];
const notNumeric = (s: string) => s.trim() !== '' && Number.isNaN(Number(s));
/** Characters no pattern of the API admits (they sit outside every character class used). */
const FOREIGN_CHARS = [' ', ';', "'", '"', '<', '>', '(', ')', '*', '|', '$', '\u00e9', '\u4e2d'];

function textForConsts(consts: string[]): fc.Arbitrary<string> {
  return fc.oneof(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !consts.includes(s) && s.trim() === s && s !== ''), fc.constantFrom(...INJECTIONS));
}

function textForInteger(s: Schema): fc.Arbitrary<string> {
  const arbs: fc.Arbitrary<string>[] = [
    fc.string({ minLength: 1, maxLength: 10 }).filter(notNumeric),
    fc.double({ min: -1e6, max: 1e6, noNaN: true }).filter((x) => !Number.isInteger(x)).map(String),
    fc.constantFrom(...INJECTIONS),
  ];
  if (s.minimum !== undefined) arbs.push(fc.integer({ min: s.minimum - 1_000_000, max: s.minimum - 1 }).map(String));
  if (s.maximum !== undefined) arbs.push(fc.integer({ min: s.maximum + 1, max: s.maximum + 1_000_000_000 }).map(String));
  return fc.oneof(...arbs);
}

function textForString(s: Schema): fc.Arbitrary<string> {
  const arbs: fc.Arbitrary<string>[] = [];
  if (s.maxLength !== undefined) arbs.push(fc.string({ minLength: s.maxLength + 1, maxLength: s.maxLength + 60 }).filter((x) => x.trim().length > s.maxLength!));
  if (s.pattern !== undefined) {
    const rx = new RegExp(s.pattern);
    arbs.push(
      fc
        .tuple(fc.stringMatching(/^[A-Z]{1,6}$/), fc.constantFrom(...FOREIGN_CHARS), fc.stringMatching(/^[A-Z]{0,6}$/))
        .map(([a, c, b]) => a + c + b)
        .filter((x) => !rx.test(x)),
    );
  }
  if (s.format === 'date') arbs.push(fc.constantFrom('2024-02-30', '2024-13-01', 'today', '20240101', '2024/01/01', '01-02-2024'));
  if (s.format === 'date-time') arbs.push(fc.constantFrom('2024-01-01T25:00:00Z', 'noon', '2024-01-01 10:00'));
  return arbs.length > 0 ? fc.oneof(...arbs) : fc.constant(null as unknown as string).filter(() => false);
}

/** Text (query value / path segment) that the schema refuses; null when the schema admits every text. */
export function violatingText(s: Schema): fc.Arbitrary<string> | null {
  if (s.anyOf) {
    if (s.anyOf.every((b) => b.const !== undefined)) return textForConsts(s.anyOf.map((b) => String(b.const)));
    // Epoch-ms-or-ISO-date unions: text that is neither a number nor a date.
    return fc.oneof(
      fc.string({ minLength: 1, maxLength: 16 }).filter((x) => notNumeric(x) && !/^\d/.test(x.trim()) && Number.isNaN(Date.parse(x))),
      fc.constantFrom('2024-02-30', 'yesterday', '-5', '2024-01-01T25:00:00Z'),
    );
  }
  if (s.type === 'integer' || s.type === 'number') return textForInteger(s);
  if (s.type === 'string' && (s.maxLength !== undefined || s.pattern !== undefined || s.format !== undefined)) return textForString(s);
  return null;
}

function wrongTypes(except: string): fc.Arbitrary<unknown> {
  const arbs: fc.Arbitrary<unknown>[] = [fc.constant(null), fc.constant({ nested: 1 })];
  if (except !== 'string') arbs.push(fc.string({ maxLength: 8 }));
  if (except !== 'number' && except !== 'integer') arbs.push(fc.double({ noNaN: true, noDefaultInfinity: true }));
  if (except !== 'boolean') arbs.push(fc.boolean());
  if (except !== 'array') arbs.push(fc.constant([1, 2]));
  return fc.oneof(...arbs);
}

/** A JSON value the (body property) schema refuses. */
export function violatingJson(s: Schema): fc.Arbitrary<unknown> {
  if (s.anyOf && s.anyOf.every((b) => b.const !== undefined)) {
    const consts = s.anyOf.map((b) => b.const);
    return fc.oneof(fc.string({ maxLength: 12 }).filter((x) => !consts.includes(x)), wrongTypes('string'));
  }
  switch (s.type) {
    case 'string': {
      const arbs: fc.Arbitrary<unknown>[] = [wrongTypes('string')];
      if (s.maxLength !== undefined) arbs.push(fc.string({ minLength: s.maxLength + 1, maxLength: s.maxLength + 40 }));
      if (s.minLength) arbs.push(fc.constant(''));
      const t = s.pattern ? textForString({ pattern: s.pattern }) : null;
      if (t) arbs.push(t);
      return fc.oneof(...arbs);
    }
    case 'integer': {
      const arbs: fc.Arbitrary<unknown>[] = [wrongTypes('integer'), fc.double({ min: -1e6, max: 1e6, noNaN: true }).filter((x) => !Number.isInteger(x))];
      if (s.minimum !== undefined) arbs.push(fc.integer({ min: s.minimum - 1e6, max: s.minimum - 1 }));
      if (s.maximum !== undefined) arbs.push(fc.integer({ min: s.maximum + 1, max: s.maximum + 1e9 }));
      return fc.oneof(...arbs);
    }
    case 'number':
      return wrongTypes('number');
    case 'boolean':
      return fc.oneof(wrongTypes('boolean'), fc.constantFrom('true', 'false', 1, 0));
    case 'array': {
      const arbs: fc.Arbitrary<unknown>[] = [wrongTypes('array')];
      if (s.items) arbs.push(violatingJson(s.items).map((bad) => [bad]));
      if (s.maxItems !== undefined) arbs.push(fc.constant(Array.from({ length: s.maxItems + 1 }, (_, i) => `S${i}`)));
      return fc.oneof(...arbs);
    }
    default:
      return wrongTypes('');
  }
}

/**
 * A body that breaks `schema` (an object schema) in one place: one property
 * violated, a required one missing, an unknown one added, or not an object.
 */
export function violatingBody(schema: Schema, valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const props = Object.entries(schema.properties ?? {});
  const arbs: fc.Arbitrary<unknown>[] = props.map(([k, p]) => violatingJson(p).map((bad) => ({ ...valid, [k]: bad })));
  for (const r of schema.required ?? []) {
    const { [r]: _drop, ...rest } = valid;
    arbs.push(fc.constant(rest));
  }
  arbs.push(fc.stringMatching(/^[a-z]{3,10}$/).filter((k) => !(k in (schema.properties ?? {}))).map((k) => ({ ...valid, [k]: 1 })));
  arbs.push(fc.oneof(fc.constant([]), fc.constant('text'), fc.integer(), fc.constant(null)));
  return fc.oneof(...arbs);
}
