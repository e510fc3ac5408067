import { describe, expect, it } from "vitest";

import { invitationLink, percent, rolesText, seenText } from "./orgAdmin";

describe("org admin wording", () => {
  it("names roles and last seen as people say them", () => {
    expect(rolesText(["admin", "learner"])).toBe("Admin, Learner");
    expect(rolesText([])).toBe("No role");
    const now = new Date("2026-12-01T12:00:00Z");
    expect(seenText(null, now)).toBe("Never");
    expect(seenText("2026-12-01T08:00:00Z", now)).toBe("Today");
    expect(seenText("2026-11-30T08:00:00Z", now)).toBe("Yesterday");
    expect(seenText("2026-11-20T12:00:00Z", now)).toBe("11 days ago");
  });

  it("builds the invitation link on this app's address and shares safely", () => {
    expect(invitationLink("/invite/abc", "https://lyceum.example")).toBe("https://lyceum.example/invite/abc");
    expect(percent(1, 4)).toBe(25);
    expect(percent(3, 0)).toBe(0);
  });
});
