/**
 * Webhook endpoints (issue 16): the admin form's rules, how an endpoint's state reads, and the calls, on the
 * typed API client. The server checks again (and decides which addresses are allowed); these checks only
 * say early what would be refused.
 */
import { api, ApiError, describeProblem, must, type Problem, type Schemas } from "../api/client";

export type Endpoint = Schemas["WebhookEndpointOut"];
export type Created = Schemas["WebhookEndpointCreated"];
export type Delivery = Schemas["WebhookDeliveryOut"];
export type EventType = Schemas["WebhookEndpointIn"]["events"][number];

/** The catalogue (docs/webhooks.md), in the order the form lists it, with words for each. */
export const EVENT_TYPES: { type: EventType; label: string }[] = [
  { type: "enrollment.created", label: "A learner enrolled" },
  { type: "item.completed", label: "An item was completed" },
  { type: "course.completed", label: "A course was completed" },
  { type: "assessment.graded", label: "An assessment was graded" },
  { type: "review.decided", label: "A reviewer decided a grade" },
  { type: "credential.issued", label: "A credential was issued" },
  { type: "credential.revoked", label: "A credential was revoked" },
  { type: "user.provisioned", label: "An account was created by LMS or SSO sign-in" },
];

export interface EndpointForm {
  url: string;
  events: EventType[];
}

export const EMPTY_FORM: EndpointForm = { url: "", events: [] };

/** The request body, or the problems per field (in words). */
export function checkForm(form: EndpointForm): { body: EndpointForm } | { errors: Partial<Record<keyof EndpointForm, string>> } {
  const errors: Partial<Record<keyof EndpointForm, string>> = {};
  const url = form.url.trim();
  if (!url) errors.url = "Required.";
  else if (!/^https?:\/\/[^\s/?#]+/i.test(url)) errors.url = "Must be a URL starting with https://.";
  else if (url.length > 2000) errors.url = "At most 2000 characters.";
  const events = EVENT_TYPES.map((e) => e.type).filter((t) => form.events.includes(t));
  if (events.length === 0) errors.events = "Choose at least one event.";
  if (Object.keys(errors).length) return { errors };
  return { body: { url, events } };
}

/** Tick or untick one event type. */
export function toggleEvent(events: EventType[], type: EventType, on: boolean): EventType[] {
  const rest = events.filter((e) => e !== type);
  return on ? [...rest, type] : rest;
}

/** Field errors the server named (problem+json `errors[].pointer` like `#/url`). */
export function serverFieldErrors(problem: Problem | undefined): Partial<Record<keyof EndpointForm, string>> {
  const errors: Partial<Record<keyof EndpointForm, string>> = {};
  for (const e of problem?.errors ?? []) {
    const field = (e.pointer ?? "").replace(/^#\//, "").split("/")[0];
    if ((field === "url" || field === "events") && e.detail) errors[field] = e.detail;
  }
  return errors;
}

/** One line on an endpoint's health, for the list. */
export function endpointStatus(endpoint: Endpoint): { text: string; tone: "ok" | "warn" | "error" } {
  if (!endpoint.enabled) {
    return { text: endpoint.disabled_reason || "Disabled by an admin.", tone: "error" };
  }
  if (endpoint.breaker === "open") {
    return { text: `Paused after ${endpoint.consecutive_failures} failures in a row; trying again soon.`, tone: "warn" };
  }
  if (endpoint.breaker === "half_open") return { text: "Trying again after failures.", tone: "warn" };
  if (endpoint.consecutive_failures > 0) {
    return { text: `${endpoint.consecutive_failures} failed attempt(s) in a row; retrying.`, tone: "warn" };
  }
  return { text: endpoint.last_success_at ? "Delivering." : "Enabled; nothing sent yet.", tone: "ok" };
}

/** The delivery log's answer column: the receiver's status code, or why there was none. */
export function deliveryAnswer(delivery: Delivery): string {
  if (delivery.last_status_code !== null && delivery.last_status_code !== undefined) return String(delivery.last_status_code);
  if (delivery.attempts === 0) return "not sent yet";
  return delivery.last_error ? "no answer" : "";
}

/** Only settled deliveries can be replayed (a pending one is still being tried). */
export function canReplay(delivery: Delivery, endpoint: Endpoint): boolean {
  return endpoint.enabled && delivery.status !== "pending";
}

async function noContent(call: Promise<{ error?: unknown; response: Response }>): Promise<void> {
  const { error, response } = await call;
  if (!response.ok) {
    const problem = { status: response.status, ...(error as object) } as Problem;
    throw new ApiError(describeProblem(problem), response.status, problem);
  }
}

export const webhooksApi = {
  list: () => must(api.GET("/v1/admin/webhooks", { params: { query: { limit: 100 } } })),
  create: (body: EndpointForm) => must(api.POST("/v1/admin/webhooks", { body })),
  update: (id: string, body: { events?: EventType[]; enabled?: boolean }) =>
    must(api.PATCH("/v1/admin/webhooks/{endpoint_id}", { params: { path: { endpoint_id: id } }, body })),
  rotate: (id: string) => must(api.POST("/v1/admin/webhooks/{endpoint_id}/rotate-secret", { params: { path: { endpoint_id: id } } })),
  deliveries: (id: string) =>
    must(api.GET("/v1/admin/webhooks/{endpoint_id}/deliveries", { params: { path: { endpoint_id: id }, query: { limit: 50 } } })),
  replay: (id: string, deliveryId: string) =>
    must(
      api.POST("/v1/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay", {
        params: { path: { endpoint_id: id, delivery_id: deliveryId } },
      }),
    ),
  remove: (id: string) => noContent(api.DELETE("/v1/admin/webhooks/{endpoint_id}", { params: { path: { endpoint_id: id } } })),
};
