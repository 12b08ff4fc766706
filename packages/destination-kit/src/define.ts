import type { z } from "zod";
import type { ActionDefinition, Destination, DestinationDefinition } from "./types.js";

/**
 * Declares one action of a destination. An identity function that keeps the metadata type
 * flowing into `perform`.
 *
 * @example
 * defineAction({
 *   description: "Add the contact to a list",
 *   metadata: z.object({ id: z.string() }),
 *   async perform({ metadata, request }) { await request(`/lists/${metadata.id}`, { method: "POST" }); },
 * });
 */
export function defineAction<TMetadataSchema extends z.ZodType, TCredentials = any>(
  action: ActionDefinition<TMetadataSchema, TCredentials>,
): ActionDefinition<TMetadataSchema, TCredentials> {
  return action;
}

/**
 * Declares a destination: its credentials, actions, rate limit and sandbox simulator.
 * Adapters wrap it in a factory taking `{ baseUrl?, fetch? }`.
 *
 * @example
 * export const acme = (options: DestinationOptions = {}) =>
 *   defineDestination({
 *     type: "acme", name: "Acme", options,
 *     credentials: z.object({ apiKey: z.string() }),
 *     baseUrl: "https://api.acme.test",
 *     headers: (credentials) => ({ authorization: `Bearer ${credentials.apiKey}` }),
 *     actions: { notify },
 *     sandbox: () => createAcmeSimulator(),
 *   });
 */
export function defineDestination<
  TCredentialsSchema extends z.ZodType,
  TActions extends Record<string, ActionDefinition<any, z.output<TCredentialsSchema>>>,
>(definition: DestinationDefinition<TCredentialsSchema, TActions>): Destination<TCredentialsSchema, TActions> {
  const invalid = Object.keys(definition.actions).find((id) => !/^[a-z][a-z0-9_]*$/.test(id));
  if (invalid) throw new TypeError(`destination "${definition.type}": action id "${invalid}" must be snake_case`);
  return Object.freeze({ ...definition, kind: "meshwork.destination" as const });
}
