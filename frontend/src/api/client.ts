/** The typed API client: paths and shapes come from the OpenAPI document generated from the server. */
import createClient from "openapi-fetch";

import type { components, paths } from "./schema";
import { session } from "./session";

export type Schemas = components["schemas"];

/** fetch with the access token attached; one refresh and one retry when the token has expired. */
export async function authedFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const token = await session.token();
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(request);
  if (response.status !== 401 || !token || request.url.includes("/v1/auth/")) return response;
  if (!(await session.refresh())) return response;
  retry.headers.set("Authorization", `Bearer ${await session.token()}`);
  return fetch(retry);
}

export const api = createClient<paths>({ baseUrl: globalThis.location?.origin ?? "", fetch: authedFetch });

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  errors?: { pointer?: string; parameter?: string; detail?: string }[];
}

/** Turn a problem+json body (or a network failure) into a sentence for people, not a status code. */
export function describeProblem(problem: unknown, fallback = "Something went wrong. Please try again."): string {
  if (problem instanceof TypeError) return "Lyceum can't be reached. Check your connection and try again.";
  if (!problem || typeof problem !== "object") return fallback;
  const p = problem as Problem;
  if (p.status === 429) return "You're going a little fast. Wait a moment and try again.";
  if (p.status && p.status >= 500) return "Lyceum had a problem on its side. Please try again in a moment.";
  const fields = (p.errors ?? [])
    .map((e) => [(e.pointer ?? e.parameter ?? "").replace(/^#\/?/, ""), e.detail].filter(Boolean).join(": "))
    .filter(Boolean);
  const detail = p.detail && p.detail !== p.title ? p.detail : (p.title ?? fallback);
  return fields.length ? `${detail} (${fields.join("; ")})` : detail;
}

/** Unwrap an openapi-fetch result: the data, or an Error whose message is fit to show. */
export async function must<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (error) {
    throw new Error(describeProblem(error));
  }
  if (result.error !== undefined || result.data === undefined) {
    const problem = { status: result.response.status, ...(result.error as object) };
    throw new ApiError(describeProblem(problem), result.response.status, problem as Problem);
  }
  return result.data;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(message);
  }
}
