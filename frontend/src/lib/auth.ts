import { api, must } from "../api/client";
import { session } from "../api/session";

export async function signIn(org: string, email: string, password: string): Promise<void> {
  // refresh_mode "cookie": the refresh token goes into an HttpOnly cookie, never into this page's reach.
  const tokens = await must(api.POST("/v1/auth/login", { body: { org, email, password, refresh_mode: "cookie" } }));
  session.accept(tokens, org);
  session.setMe(await must(api.GET("/v1/me")));
}

/** On start-up: exchange the session cookie for an access token, or end up signed out. */
export async function restoreSession(): Promise<void> {
  if (!session.hasStoredSession()) {
    session.setMe(null);
    return;
  }
  if (!(await session.refresh())) {
    session.setMe(null);
    return;
  }
  try {
    session.setMe(await must(api.GET("/v1/me")));
  } catch {
    session.setMe(null);
  }
}

/** Ends the session on the server, which also expires the session cookie. */
export async function signOut(): Promise<void> {
  try {
    await api.POST("/v1/auth/logout");
  } finally {
    session.clear();
  }
}
