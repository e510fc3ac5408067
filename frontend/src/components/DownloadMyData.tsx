import { useEffect, useRef, useState } from "react";

import { dataExportApi, exportErrorText, exportStatusText, POLL_MS, type DataExport } from "../lib/dataExport";
import { Spinner } from "./Status";

/** "Download my data": asks for the learner's export, polls it while the worker builds the zip, then offers
 * the download link (a signed link that expires; see docs/data-handling.md). */
export function DownloadMyData() {
  const [current, setCurrent] = useState<DataExport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);

  async function poll(ask: () => Promise<DataExport>) {
    setBusy(true);
    setError(null);
    try {
      const next = await ask();
      setCurrent(next);
      if (next.status === "pending") {
        timer.current = setTimeout(() => void poll(dataExportApi.current), POLL_MS);
        return;
      }
    } catch (e) {
      setError(exportErrorText(e));
    }
    setBusy(false);
  }

  const ready = current?.status === "ready" && current.download_url;
  return (
    <section className="card" aria-labelledby="my-data-title" data-testid="download-my-data">
      <h2 id="my-data-title">Your data</h2>
      <p className="muted small">
        A zip of everything Lyceum keeps about you in this organization: your profile, courses, progress, answers and
        grades, tutor conversations, reviews and credentials.
      </p>
      {!ready && (
        <button type="button" className="button" disabled={busy} onClick={() => void poll(dataExportApi.current)}>
          Download my data
        </button>
      )}
      {busy && current?.status === "pending" && <Spinner label={exportStatusText(current)} />}
      {ready && (
        <p>
          <a className="button" href={current.download_url ?? undefined} download>
            Download the zip
          </a>{" "}
          <button type="button" className="button secondary" onClick={() => void poll(dataExportApi.fresh)}>
            Prepare a new one
          </button>
        </p>
      )}
      {current && !busy && <p className="muted small" role="status">{exportStatusText(current)}</p>}
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
