import { useEffect, useState } from "react";

import { api } from "../api/client";

/** What GET /v1/config says before anyone signs in: demo mode and the release version. */
export interface PublicConfig {
  demo_mode: boolean;
  version: string;
}

let pending: Promise<PublicConfig | null> | null = null;

/** The public config, fetched once per page load and shared (the footer and the sign-in page both read it). */
export function loadPublicConfig(): Promise<PublicConfig | null> {
  pending ??= api
    .GET("/v1/config")
    .then(({ data }) => data ?? null)
    .catch(() => {
      pending = null; // a failed fetch is tried again by the next caller
      return null;
    });
  return pending;
}

/** For tests: forget the shared answer. */
export function resetPublicConfig(): void {
  pending = null;
}

export function usePublicConfig(): PublicConfig | null {
  const [config, setConfig] = useState<PublicConfig | null>(null);
  useEffect(() => {
    let live = true;
    loadPublicConfig().then((loaded) => live && setConfig(loaded));
    return () => {
      live = false;
    };
  }, []);
  return config;
}
