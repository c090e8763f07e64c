/** /v1/flags: feature flags — list, set and unset overrides (live everywhere), and their history. Admins only. */
import { type Static, Type } from 'typebox';
import { FLAG_NAMES } from '../../contracts/flags.ts';
import { Nullable } from '../schemas.ts';
import type { FlagService } from '../services/flags.ts';
import { principal, type RoutePlugin, replies } from './context.ts';

const tags = ['feature flags'];
const closed = { additionalProperties: false } as const;

const ScopeKind = Type.Union([Type.Literal('global'), Type.Literal('worker'), Type.Literal('user')]);

export const FlagSchema = Type.Object(
  {
    name: Type.String({ description: `One of: ${FLAG_NAMES.join(', ')}.` }),
    description: Type.String(),
    when: Type.String({ description: 'Why an operator would change it.' }),
    default: Type.Boolean(),
    scopes: Type.Array(ScopeKind, { description: 'Where overrides may be set.' }),
    readBy: Type.Array(Type.Union([Type.Literal('manager'), Type.Literal('worker')])),
    value: Type.Boolean({ description: 'The value where no worker or user override applies.' }),
    overrides: Type.Array(
      Type.Object(
        {
          scope: Type.String({ description: '`global`, `worker:<authority>` or `user:<user id>`.' }),
          value: Type.Boolean(),
          updatedAt: Type.String({ format: 'date-time' }),
          updatedBy: Nullable(Type.String()),
        },
        closed,
      ),
    ),
  },
  closed,
);
const FlagListSchema = Type.Object({ items: Type.Array(FlagSchema) }, closed);

const FlagChangeSchema = Type.Object(
  {
    id: Type.Integer(),
    at: Type.String({ format: 'date-time' }),
    name: Type.String(),
    scope: Type.String(),
    value: Nullable(Type.Boolean({ description: 'The new value; null: the override was removed.' })),
    previous: Nullable(Type.Boolean()),
    by: Nullable(Type.String()),
    byName: Nullable(Type.String()),
  },
  closed,
);
const FlagChangeListSchema = Type.Object({ items: Type.Array(FlagChangeSchema) }, closed);

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, closed);
const Scope = Type.String({
  minLength: 1,
  maxLength: 140,
  description: '`global` (the default), `worker:<authority>` or `user:<user id or name>`.',
});
const ScopeQuery = Type.Object({ scope: Type.Optional(Scope) }, closed);
const SetFlagBody = Type.Object({ value: Type.Boolean(), scope: Type.Optional(Scope) }, closed);
const ChangesQuery = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
  closed,
);

export interface FlagRoutesOptions {
  flags: Pick<FlagService, 'list' | 'get' | 'change' | 'changes'>;
}

export const flagRoutes: RoutePlugin<FlagRoutesOptions> = async (app, d) => {
  app.get(
    '/v1/flags',
    {
      schema: {
        summary:
          'Every feature flag: what it does, its default, its overrides and its global value. Admins only.',
        tags,
        response: replies({ 200: FlagListSchema }),
      },
    },
    async (req) => ({ items: await d.flags.list(principal(req)) }),
  );
  app.get(
    '/v1/flags/changes',
    {
      schema: {
        summary:
          'Who set or unset which flag at which scope, when (the newest 500, oldest first). Admins only.',
        tags,
        querystring: ChangesQuery,
        response: replies({ 200: FlagChangeListSchema }),
      },
    },
    async (req) => ({ items: await d.flags.changes(principal(req), req.query.name) }),
  );
  app.get<{ Params: Static<typeof NameParams> }>(
    '/v1/flags/:name',
    {
      schema: {
        summary: 'One feature flag. Admins only.',
        tags,
        params: NameParams,
        response: replies({ 200: FlagSchema }),
      },
    },
    async (req) => d.flags.get(principal(req), req.params.name),
  );
  app.put<{ Params: Static<typeof NameParams>; Body: Static<typeof SetFlagBody> }>(
    '/v1/flags/:name',
    {
      schema: {
        summary: 'Set a flag at a scope (global by default). Admins only.',
        description:
          'Answers once the change is in KV, from where every manager and worker applies it within about a second, ' +
          'without a restart. What a flag decides is decided anew for new requests and new circuits; open circuits ' +
          'keep the flow they were created under. Unknown names: 404 AP_ERR_FLAG_NOT_FOUND; a scope the flag does ' +
          'not take: 400 AP_ERR_VALIDATION.',
        tags,
        params: NameParams,
        body: SetFlagBody,
        response: replies({ 200: FlagSchema }),
      },
    },
    async (req) => d.flags.change(principal(req), req.params.name, req.body.scope, req.body.value),
  );
  app.delete<{ Params: Static<typeof NameParams>; Querystring: Static<typeof ScopeQuery> }>(
    '/v1/flags/:name',
    {
      schema: {
        summary:
          'Remove the override of a flag at a scope (global by default): the next wider one applies. Admins only.',
        tags,
        params: NameParams,
        querystring: ScopeQuery,
        response: replies({ 200: FlagSchema }),
      },
    },
    async (req) => d.flags.change(principal(req), req.params.name, req.query.scope, null),
  );
};
