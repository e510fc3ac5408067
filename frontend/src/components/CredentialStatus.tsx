/** A credential's status in words with a mark, never colour alone: "✓ Active" / "✕ Revoked". */
export function StatusTag({ status }: { status: string }) {
  const revoked = status === "revoked";
  return (
    <span className={`status-tag ${revoked ? "is-revoked" : "is-active"}`} data-testid="credential-status">
      <span aria-hidden="true">{revoked ? "✕ " : "✓ "}</span>
      {revoked ? "Revoked" : "Active"}
    </span>
  );
}
