import { useEffect, useRef, useState, type ChangeEvent, type FormEvent, type ReactNode } from "react";

import { ErrorNote, Spinner } from "../../components/Status";
import {
  checkOidcForm,
  checkSamlForm,
  EMPTY_OIDC,
  EMPTY_SAML,
  oidc,
  oidcFormOf,
  ROLES,
  saml,
  samlFormOf,
  serverFieldErrors,
  type CommonForm,
  type FieldErrors,
  type OidcForm,
  type SamlForm,
} from "../../lib/sso";
import { useResource } from "../../lib/useResource";

type Notice = { text: string; error: boolean } | null;

function Field({ id, label, error, hint, children }: { id: string; label: string; error?: string; hint?: ReactNode; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p className="muted small" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {children}
      {error && (
        <p className="error-text small" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function describedBy(id: string, errors: FieldErrors, field: string, hint = false): string | undefined {
  const ids = [hint ? `${id}-hint` : "", errors[field] ? `${id}-error` : ""].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

/** Display name, enabled, allowed domains, role attribute and mapping: the same for both protocols. */
function CommonFields<F extends CommonForm>({
  prefix,
  form,
  errors,
  set,
  claimLabel,
}: {
  prefix: string;
  form: F;
  errors: FieldErrors;
  set: (patch: Partial<F>) => void;
  claimLabel: string;
}) {
  const id = (name: string) => `${prefix}-${name}`;
  return (
    <>
      <Field id={id("display_name")} label="Button text" error={errors.display_name} hint='Shown as "Sign in with …" on the sign-in page.'>
        <input
          id={id("display_name")}
          value={form.display_name}
          onChange={(e) => set({ display_name: e.target.value } as Partial<F>)}
          aria-invalid={Boolean(errors.display_name)}
          aria-describedby={describedBy(id("display_name"), errors, "display_name", true)}
        />
      </Field>
      <Field id={id("allowed_domains")} label="Allowed email domains" error={errors.allowed_domains} hint="One per line. Leave empty to allow any address the provider vouches for.">
        <textarea
          id={id("allowed_domains")}
          rows={2}
          value={form.allowed_domains}
          onChange={(e) => set({ allowed_domains: e.target.value } as Partial<F>)}
          aria-invalid={Boolean(errors.allowed_domains)}
          aria-describedby={describedBy(id("allowed_domains"), errors, "allowed_domains", true)}
        />
      </Field>
      <Field id={id("role_claim")} label={claimLabel} error={errors.role_claim} hint="Optional: where the provider says what someone is, such as groups.">
        <input
          id={id("role_claim")}
          value={form.role_claim}
          onChange={(e) => set({ role_claim: e.target.value } as Partial<F>)}
          aria-invalid={Boolean(errors.role_claim)}
          aria-describedby={describedBy(id("role_claim"), errors, "role_claim", true)}
        />
      </Field>
      <Field id={id("role_mapping")} label="Role mapping" error={errors.role_mapping} hint='One "value = role" per line, for example "teachers = instructor". The highest matching role wins.'>
        <textarea
          id={id("role_mapping")}
          rows={3}
          value={form.role_mapping}
          onChange={(e) => set({ role_mapping: e.target.value } as Partial<F>)}
          aria-invalid={Boolean(errors.role_mapping)}
          aria-describedby={describedBy(id("role_mapping"), errors, "role_mapping", true)}
        />
      </Field>
      <Field id={id("default_role")} label="Role for everyone else">
        <select id={id("default_role")} value={form.default_role} onChange={(e) => set({ default_role: e.target.value } as Partial<F>)}>
          {ROLES.map((role) => (
            <option key={role} value={role}>
              {role}
            </option>
          ))}
        </select>
      </Field>
      <label className="checkbox">
        <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.target.checked } as Partial<F>)} /> Turned on (people can sign in this way)
      </label>
    </>
  );
}

function OidcSection({ onChanged }: { onChanged(): void }) {
  const current = useResource(() => oidc.get(), []);
  const [form, setForm] = useState<OidcForm | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  const shown = form ?? (current.data ? oidcFormOf(current.data) : EMPTY_OIDC);
  const set = (patch: Partial<OidcForm>) => setForm({ ...shown, ...patch });

  async function save(event: FormEvent) {
    event.preventDefault();
    const checked = checkOidcForm(shown);
    setErrors(checked.errors);
    if (!checked.body) return;
    setBusy(true);
    setNotice(null);
    try {
      await oidc.put(checked.body);
      setForm(null);
      setNotice({ text: "OpenID Connect sign-in saved. Lyceum reached your identity provider.", error: false });
      current.reload();
      onChanged();
    } catch (error) {
      setErrors(serverFieldErrors(error));
      setNotice({ text: error instanceof Error ? error.message : String(error), error: true });
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!window.confirm("Remove OpenID Connect sign-in? People who sign in this way will need another way in.")) return;
    await oidc.remove();
    setForm(null);
    setNotice({ text: "OpenID Connect sign-in removed.", error: false });
    current.reload();
    onChanged();
  }

  if (current.loading && !current.data) return <Spinner label="Loading OpenID Connect settings…" />;
  if (current.error) return <ErrorNote message={current.error} onRetry={current.reload} />;
  return (
    <form className="card" onSubmit={save} aria-labelledby="sso-oidc-title" noValidate>
      <h3 id="sso-oidc-title">OpenID Connect (Okta, Entra ID, Google Workspace, Keycloak)</h3>
      {!current.data && <p className="muted">Not set up yet. Register Lyceum at your identity provider, then fill in what it gives you.</p>}
      {current.data && (
        <p className="small">
          Redirect URI to register at your provider: <code>{current.data.redirect_uri}</code>
        </p>
      )}
      <Field id="oidc-issuer" label="Issuer URL" error={errors.issuer} hint="Lyceum reads its settings from the issuer's /.well-known/openid-configuration.">
        <input
          id="oidc-issuer"
          type="url"
          value={shown.issuer}
          onChange={(e) => set({ issuer: e.target.value })}
          aria-invalid={Boolean(errors.issuer)}
          aria-describedby={describedBy("oidc-issuer", errors, "issuer", true)}
        />
      </Field>
      <Field id="oidc-client_id" label="Client ID" error={errors.client_id}>
        <input
          id="oidc-client_id"
          value={shown.client_id}
          onChange={(e) => set({ client_id: e.target.value })}
          aria-invalid={Boolean(errors.client_id)}
          aria-describedby={describedBy("oidc-client_id", errors, "client_id")}
        />
      </Field>
      <Field
        id="oidc-client_secret"
        label="Client secret"
        hint={current.data?.has_client_secret ? "A secret is stored (it is never shown). Leave empty to keep it." : "Leave empty for a public client."}
      >
        <input
          id="oidc-client_secret"
          type="password"
          autoComplete="new-password"
          value={shown.client_secret}
          onChange={(e) => set({ client_secret: e.target.value })}
          aria-describedby="oidc-client_secret-hint"
        />
      </Field>
      {current.data?.has_client_secret && (
        <label className="checkbox">
          <input type="checkbox" checked={shown.remove_secret} onChange={(e) => set({ remove_secret: e.target.checked })} /> Remove the stored secret
        </label>
      )}
      <CommonFields prefix="oidc" form={shown} errors={errors} set={set} claimLabel="Role claim" />
      <p className="toolbar">
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Checking the provider…" : "Save"}
        </button>
        {current.data && (
          <button type="button" className="button secondary" onClick={() => void remove()}>
            Remove
          </button>
        )}
      </p>
      <p className={`small ${notice?.error ? "error-text" : "muted"}`} role="status">
        {notice?.text}
      </p>
    </form>
  );
}

function SamlSection({ onChanged }: { onChanged(): void }) {
  const current = useResource(() => saml.get(), []);
  const [form, setForm] = useState<SamlForm | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  const [fileName, setFileName] = useState("");
  // The API answers before the first setup too (configured: false), with what the admin gives their IdP.
  const configured = Boolean(current.data && current.data.configured !== false);
  const sp = current.data ?? {};
  const shown = form ?? (configured && current.data ? samlFormOf(current.data) : EMPTY_SAML);
  const set = (patch: Partial<SamlForm>) => setForm({ ...shown, ...patch });

  async function upload(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    if (!file) return;
    setFileName(file.name);
    set({ idp_metadata_xml: await file.text() });
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    const checked = checkSamlForm(shown);
    setErrors(checked.errors);
    if (!checked.body) return;
    setBusy(true);
    setNotice(null);
    try {
      await saml.put(checked.body);
      setForm(null);
      setFileName("");
      setNotice({ text: "SAML sign-in saved.", error: false });
      current.reload();
      onChanged();
    } catch (error) {
      setErrors(serverFieldErrors(error));
      setNotice({ text: error instanceof Error ? error.message : String(error), error: true });
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!window.confirm("Remove SAML sign-in? People who sign in this way will need another way in.")) return;
    try {
      await saml.remove();
      setForm(null);
      setNotice({ text: "SAML sign-in removed.", error: false });
      current.reload();
      onChanged();
    } catch (error) {
      setNotice({ text: error instanceof Error ? error.message : String(error), error: true });
    }
  }

  if (current.loading && !current.data) return <Spinner label="Loading SAML settings…" />;
  if (current.error) return <ErrorNote message={current.error} onRetry={current.reload} />;
  return (
    <form className="card" onSubmit={save} aria-labelledby="sso-saml-title" noValidate>
      <h3 id="sso-saml-title">SAML 2.0 (Shibboleth, ADFS, and others)</h3>
      {!configured && <p className="muted">Not set up yet. Give Lyceum your identity provider's metadata.</p>}
      {typeof sp.sp_entity_id === "string" && sp.sp_entity_id && (
        <dl className="small">
          <dt>Entity ID (audience) for your identity provider</dt>
          <dd><code>{String(sp.sp_entity_id)}</code></dd>
          <dt>ACS URL (reply / recipient URL)</dt>
          <dd><code>{String(sp.acs_url ?? "")}</code></dd>
          <dt>Lyceum's SAML metadata</dt>
          <dd><code>{String(sp.metadata_url ?? "")}</code></dd>
        </dl>
      )}
      <Field id="saml-idp_metadata_url" label="Metadata URL" error={errors.idp_metadata_url} hint="Or upload the metadata file below instead.">
        <input
          id="saml-idp_metadata_url"
          type="url"
          value={shown.idp_metadata_url}
          onChange={(e) => set({ idp_metadata_url: e.target.value })}
          aria-invalid={Boolean(errors.idp_metadata_url)}
          aria-describedby={describedBy("saml-idp_metadata_url", errors, "idp_metadata_url", true)}
        />
      </Field>
      <Field id="saml-idp_metadata_xml" label="Metadata file (XML)" error={errors.idp_metadata_xml} hint={fileName ? `Selected: ${fileName}` : undefined}>
        <input id="saml-idp_metadata_xml" type="file" accept=".xml,application/xml,text/xml" onChange={(e) => void upload(e)} />
      </Field>
      <CommonFields prefix="saml" form={shown} errors={errors} set={set} claimLabel="Role attribute" />
      <p className="toolbar">
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Saving…" : "Save"}
        </button>
        {configured && (
          <button type="button" className="button secondary" onClick={() => void remove()}>
            Remove
          </button>
        )}
      </p>
      <p className={`small ${notice?.error ? "error-text" : "muted"}`} role="status">
        {notice?.text}
      </p>
    </form>
  );
}

function RequiredSwitch({ version }: { version: number }) {
  const settings = useResource(() => oidc.settings(), [version]);
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  // The switch shows the state asked for until the reloaded settings arrive: a controlled checkbox would
  // otherwise flip back to the old state while the server answers (and be announced so).
  const [asked, setAsked] = useState<boolean | null>(null);
  const status = useRef<HTMLParagraphElement>(null);
  useEffect(() => setAsked(null), [settings.data]);

  async function toggle(required: boolean) {
    setBusy(true);
    setAsked(required);
    setNotice(null);
    try {
      await oidc.setRequired(required);
      setNotice({
        text: required ? "Members now sign in with single sign-on only. Admins can still use their password." : "Members can use passwords again.",
        error: false,
      });
      settings.reload();
    } catch (error) {
      setAsked(null);
      setNotice({ text: error instanceof Error ? error.message : String(error), error: true });
    } finally {
      setBusy(false);
      status.current?.focus();
    }
  }

  if (settings.loading && !settings.data) return <Spinner label="Loading…" />;
  if (settings.error || !settings.data) return <ErrorNote message={settings.error ?? "Not available"} onRetry={settings.reload} />;
  return (
    <div className="card">
      <label className="checkbox">
        <input
          type="checkbox"
          role="switch"
          checked={asked ?? settings.data.sso_required}
          disabled={busy}
          onChange={(e) => void toggle(e.target.checked)}
          aria-describedby="sso-required-hint"
        />{" "}
        Require single sign-on for members
      </label>
      <p className="muted small" id="sso-required-hint">
        Learners and instructors can then only sign in through your identity provider. Admins keep their password, so you can
        still get in if the provider is down.
      </p>
      <p ref={status} tabIndex={-1} className={`small ${notice?.error ? "error-text" : "muted"}`} role="status">
        {notice?.text}
      </p>
    </div>
  );
}

/** Admin page section "Single sign-on": OIDC and SAML connections and the "SSO required" switch. */
export function SingleSignOnSection() {
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  return (
    <section aria-labelledby="sso-title" className="admin-section" data-testid="sso-admin">
      <h2 id="sso-title">Single sign-on</h2>
      <p className="muted small">
        Let people sign in with your organisation's own accounts. New people get a Lyceum account the first time they sign in;
        an existing account is linked only when the provider has verified its email address.
      </p>
      <RequiredSwitch version={version} />
      <OidcSection onChanged={changed} />
      <SamlSection onChanged={changed} />
    </section>
  );
}
