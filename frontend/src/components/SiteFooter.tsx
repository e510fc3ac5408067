import { usePublicConfig } from "../lib/publicConfig";

/** The release this server runs (defined once in pyproject.toml, reported by /v1/config), and where the API
 * docs and the licence are. Shown under every page outside an LMS iframe. */
export function SiteFooter() {
  const config = usePublicConfig();
  return (
    <footer className="site-footer muted small">
      <span data-testid="app-version">Lyceum {config?.version ? `v${config.version}` : ""}</span>
      {" · "}
      <a href="/schema">API documentation</a>
      {" · "}
      <span>Open source under the Apache License 2.0</span>
    </footer>
  );
}
