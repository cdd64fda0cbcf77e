// Request and answer types of each operation, read from the types generated from the server's
// /openapi.json, so a change of the API shows up as a type error here.
import type { components, paths } from "./generated/openapi.js";

export type Schemas = components["schemas"];
type Path = keyof paths;
type Method<P extends Path> = Exclude<keyof paths[P], "parameters">;

type JsonOf<R> = R extends { content: { "application/json": infer T } } ? T : never;

/** The JSON body of the operation's success (200, 201 or 202). */
export type Ok<P extends Path, M extends Method<P>> = paths[P][M] extends { responses: infer R }
  ? R extends { 200: infer A }
    ? JsonOf<A>
    : R extends { 201: infer A }
      ? JsonOf<A>
      : R extends { 202: infer A }
        ? JsonOf<A>
        : never
  : never;

/** The operation's JSON request body. */
export type Body<P extends Path, M extends Method<P>> = paths[P][M] extends { requestBody?: infer B }
  ? JsonOf<NonNullable<B>>
  : never;

/** The operation's query parameters. */
export type Query<P extends Path, M extends Method<P>> = paths[P][M] extends { parameters: { query?: infer Q } }
  ? NonNullable<Q>
  : never;
