// Saving a file the hub sent: a blob fetched with the admin token (a plain link could not
// carry the token) handed to the browser's download through a temporary object URL.

/** Starts the browser's download of `blob` as `fileName`. */
export function saveFile(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked later: some browsers read the URL after `click()` returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
