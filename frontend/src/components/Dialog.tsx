import { useEffect, useId, useRef, type ReactNode } from "react";

/**
 * A modal dialog on the native <dialog>: showModal() makes the rest of the page inert and keeps Tab inside,
 * Escape closes it. Focus goes to the element marked `data-autofocus` (else the first field) on opening and
 * back to what had it (or to `returnFocus()`, when that element is gone) on closing.
 */
export function Dialog({
  open,
  title,
  onClose,
  children,
  returnFocus,
}: {
  open: boolean;
  title: string;
  onClose(): void;
  children: ReactNode;
  returnFocus?: () => HTMLElement | null;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  const titleId = useId();
  const returnTo = useRef(returnFocus);
  returnTo.current = returnFocus;

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      dialog.showModal?.();
      const first =
        dialog.querySelector<HTMLElement>("[data-autofocus]") ??
        dialog.querySelector<HTMLElement>("input, textarea, select, button");
      first?.focus();
    } else if (!open && dialog.open) {
      dialog.close();
      const target = opener.current?.isConnected ? opener.current : (returnTo.current?.() ?? null);
      target?.focus();
    }
  }, [open]);

  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault(); // Escape: the owner closes it, so its state stays the truth
        onClose();
      }}
    >
      {open && (
        <>
          <h2 id={titleId}>{title}</h2>
          {children}
        </>
      )}
    </dialog>
  );
}
