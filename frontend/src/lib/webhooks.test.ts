import { describe, expect, it } from "vitest";

import {
  canReplay,
  checkForm,
  deliveryAnswer,
  EMPTY_FORM,
  endpointStatus,
  EVENT_TYPES,
  serverFieldErrors,
  toggleEvent,
  type Delivery,
  type Endpoint,
} from "./webhooks";

const endpoint: Endpoint = {
  id: "e1",
  url: "https://hooks.example.com/lyceum",
  events: ["enrollment.created"],
  enabled: true,
  disabled_reason: "",
  disabled_at: null,
  breaker: "closed",
  consecutive_failures: 0,
  last_success_at: null,
  last_failure_at: null,
  created_at: "2026-12-01T00:00:00Z",
  updated_at: "2026-12-01T00:00:00Z",
};

const delivery: Delivery = {
  id: "d1",
  event_id: "ev1",
  event_type: "enrollment.created",
  status: "failed",
  attempts: 8,
  next_attempt_at: null,
  last_attempt_at: "2026-12-02T03:00:00Z",
  delivered_at: null,
  last_status_code: 503,
  last_error: "answered 503",
  created_at: "2026-12-01T00:00:00Z",
};

describe("checkForm", () => {
  it("builds the contract's body with the events in catalogue order", () => {
    expect(checkForm({ url: " https://hooks.example.com/x ", events: ["credential.issued", "enrollment.created"] })).toEqual({
      body: { url: "https://hooks.example.com/x", events: ["enrollment.created", "credential.issued"] },
    });
  });

  it("names a missing URL, a non-URL and no events", () => {
    expect(checkForm(EMPTY_FORM)).toEqual({ errors: { url: "Required.", events: "Choose at least one event." } });
    expect(checkForm({ url: "hooks.example.com", events: ["item.completed"] })).toEqual({
      errors: { url: "Must be a URL starting with https://." },
    });
  });
});

describe("toggleEvent", () => {
  it("adds and removes one type without duplicates", () => {
    expect(toggleEvent([], "item.completed", true)).toEqual(["item.completed"]);
    expect(toggleEvent(["item.completed"], "item.completed", true)).toEqual(["item.completed"]);
    expect(toggleEvent(["item.completed", "course.completed"], "item.completed", false)).toEqual(["course.completed"]);
  });

  it("offers the whole catalogue", () => {
    expect(EVENT_TYPES.map((e) => e.type)).toHaveLength(8);
  });
});

describe("serverFieldErrors", () => {
  it("maps the server's pointers to the form's fields", () => {
    expect(
      serverFieldErrors({
        status: 422,
        title: "x",
        errors: [
          { pointer: "#/url", detail: "'localhost' resolves to a non-public address (127.0.0.1)" },
          { pointer: "#/events/0", detail: "Invalid enum value" },
          { pointer: "#/other", detail: "ignored" },
        ],
      } as never),
    ).toEqual({ url: "'localhost' resolves to a non-public address (127.0.0.1)", events: "Invalid enum value" });
    expect(serverFieldErrors(undefined)).toEqual({});
  });
});

describe("endpointStatus", () => {
  it("shows the auto-disable notice first", () => {
    expect(endpointStatus({ ...endpoint, enabled: false, disabled_reason: "Disabled automatically at …" })).toEqual({
      text: "Disabled automatically at …",
      tone: "error",
    });
    expect(endpointStatus({ ...endpoint, enabled: false }).text).toBe("Disabled by an admin.");
  });

  it("says when the breaker is open or probing, and when all is well", () => {
    expect(endpointStatus({ ...endpoint, breaker: "open", consecutive_failures: 5 }).tone).toBe("warn");
    expect(endpointStatus({ ...endpoint, breaker: "half_open" }).text).toBe("Trying again after failures.");
    expect(endpointStatus(endpoint)).toEqual({ text: "Enabled; nothing sent yet.", tone: "ok" });
    expect(endpointStatus({ ...endpoint, last_success_at: "2026-12-01T01:00:00Z" }).text).toBe("Delivering.");
  });
});

describe("the delivery log", () => {
  it("shows the response code, or why there is none", () => {
    expect(deliveryAnswer(delivery)).toBe("503");
    expect(deliveryAnswer({ ...delivery, last_status_code: null, last_error: "ConnectError" })).toBe("no answer");
    expect(deliveryAnswer({ ...delivery, status: "pending", attempts: 0, last_status_code: null, last_error: "" })).toBe(
      "not sent yet",
    );
  });

  it("replays only settled deliveries of an enabled endpoint", () => {
    expect(canReplay(delivery, endpoint)).toBe(true);
    expect(canReplay({ ...delivery, status: "pending" }, endpoint)).toBe(false);
    expect(canReplay(delivery, { ...endpoint, enabled: false })).toBe(false);
  });
});
