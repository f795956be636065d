// Some desktop webviews report the POSIX locale as the browser language (WebKitGTK says "c"
// under LANG=C), which is not a valid BCP 47 tag: `Intl.NumberFormat("c")` throws, and uPlot
// formats numbers with the browser language when its module loads, so the whole console would
// stay blank. Imported first by the console so it runs before any other module.
export function usableLanguage(language: string | undefined): string {
  if (!language) return "en-US";
  try {
    new Intl.NumberFormat(language);
    return language;
  } catch {
    return "en-US";
  }
}

if (typeof navigator !== "undefined" && usableLanguage(navigator.language) !== navigator.language) {
  Object.defineProperty(navigator, "language", { value: "en-US", configurable: true });
}
