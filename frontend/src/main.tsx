import "./styles.css";

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";

import { App } from "./App";
import { restoreSession } from "./lib/auth";

// A launch (/lti/app) starts a new embedded session itself: restoring an older one would race it.
if (globalThis.location?.pathname !== "/lti/app") void restoreSession();

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <BrowserRouter>
        <App />
      </BrowserRouter>
    </StrictMode>,
  );
}
