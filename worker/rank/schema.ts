// The rank request (DESIGN.md, "The rank API"), validated with zod. Every limit here is a defence:
// the worker must answer a hostile body with a 4xx naming the field, never a 5xx or a slow request.
import { z } from 'zod';
import { ApiError, formatPath } from '../http/errors.ts';
import { fastParseRankRequest } from './fast-parse.ts';
import { armObjectiveSchema } from './objective.ts';
import { rulesSchema } from './rules.ts';

export const MAX_ITEMS = 500;
export const MAX_ID_LENGTH = 128;
export const MAX_STRING_LENGTH = 256;
export const MAX_INLINE_FIELDS = 32;
/** inline field names (items, context) are echoed in error paths and read by rules: kept short */
export const MAX_FIELD_NAME_LENGTH = 64;

const id = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_ID_LENGTH, `must be at most ${MAX_ID_LENGTH} characters`);

/** Inline values are flat: a string, a finite number, a boolean or null. */
const inlineValue = z.union([z.string().max(MAX_STRING_LENGTH), z.number().finite().min(-1e12).max(1e12), z.boolean(), z.null()]);

const tooManyFields = (value: Record<string, unknown>) => Object.keys(value).length <= MAX_INLINE_FIELDS;

/** A field name over the limit, reported at that field (its name cut short, so the error stays small). */
const longFieldNames = (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
  for (const key of Object.keys(value)) {
    if (key.length > MAX_FIELD_NAME_LENGTH) {
      ctx.addIssue({ code: 'custom', path: [`${key.slice(0, 32)}...`], message: `field names must be at most ${MAX_FIELD_NAME_LENGTH} characters` });
      return;
    }
  }
};

const itemSchema = z
  .object({
    id,
    price: z.number().finite().min(0, 'must be >= 0').max(1e9).optional(),
  })
  .catchall(inlineValue)
  .refine(tooManyFields, { message: `an item may carry at most ${MAX_INLINE_FIELDS} fields` })
  .superRefine(longFieldNames);

const contextSchema = z
  .object({
    device: z.string().max(MAX_STRING_LENGTH).optional(),
    page: z.string().max(MAX_STRING_LENGTH).optional(),
    locale: z.string().max(MAX_STRING_LENGTH).optional(),
    query: z.string().max(MAX_STRING_LENGTH).optional(),
    category: z.string().max(MAX_STRING_LENGTH).optional(),
    time: z.union([z.iso.datetime({ offset: true }), z.number().int().min(0).max(8.64e15)]).optional(),
  })
  .catchall(inlineValue)
  .refine(tooManyFields, { message: `context may carry at most ${MAX_INLINE_FIELDS} fields` })
  .superRefine(longFieldNames);

export const rankRequestSchema = z
  .object({
    request_id: id.optional(),
    user_id: id.optional(),
    context: contextSchema.optional(),
    items: z
      .array(itemSchema)
      .min(1, 'must hold at least 1 item')
      .max(MAX_ITEMS, `must hold at most ${MAX_ITEMS} items`),
    k: z.number().int().min(1).max(MAX_ITEMS).optional(),
    explain: z.boolean().optional(),
    /** business rules (rules.ts): filter, boost, pin, diversity, dedupe */
    rules: rulesSchema.optional(),
    /**
     * QA and explain: score with this objective instead of the arm's (model arms only; a popularity
     * arm has none). Such a slate is not what the arm serves, so it is not written to the exposure log.
     */
    objective: armObjectiveSchema.optional(),
  })
  .strict()
  .superRefine((request, ctx) => {
    const firstSeen = new Map<string, number>();
    request.items.forEach((item, i) => {
      const first = firstSeen.get(item.id);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['items', i, 'id'], message: `duplicate id '${item.id}' (first at items[${first}])` });
      } else {
        firstSeen.set(item.id, i);
      }
    });
    // A request pins its own items: a pin naming another id is a mistake worth a 400.
    request.rules?.pin?.forEach((pin, i) => {
      if (!firstSeen.has(pin.id)) ctx.addIssue({ code: 'custom', path: ['rules', 'pin', i, 'id'], message: `'${pin.id}' is not among the items` });
    });
  });

export type RankRequest = z.infer<typeof rankRequestSchema>;
export type RankItem = RankRequest['items'][number];

/** Validates a parsed body; throws a 400 ApiError naming the first bad field. */
export function parseRankRequest(body: unknown): RankRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_request', 'body must be a JSON object');
  }
  // Well-formed requests skip zod's per-field object building; anything else gets zod's message.
  const fast = fastParseRankRequest(body);
  if (fast !== undefined) return fast;
  const result = rankRequestSchema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = formatPath(issue.path);
  throw new ApiError(400, 'invalid_request', `${path || 'body'}: ${describeIssue(issue)}`, path || undefined);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    // the keys are the client's: quote a few, cut short, so a hostile body cannot blow up the error
    const shown = issue.keys.slice(0, 5).map((k) => `'${k.length > 32 ? `${k.slice(0, 32)}...` : k}'`);
    return `unknown field(s) ${shown.join(', ')}${issue.keys.length > 5 ? ` and ${issue.keys.length - 5} more` : ''}`;
  }
  return issue.message;
}
