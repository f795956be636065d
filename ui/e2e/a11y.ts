// A cheap accessibility check the e2e tests run on each screen: every form control has a
// label, and nothing clickable is a bare div or span (keyboard users could not reach it).
import type { Page } from "playwright-core";

export async function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    for (const control of document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>("input, select, textarea")) {
      const named = (control.labels?.length ?? 0) > 0 || control.getAttribute("aria-label") || control.getAttribute("aria-labelledby");
      if (!named) problems.push(`unlabelled ${control.tagName.toLowerCase()} ${control.id || control.name}`);
    }
    for (const element of document.querySelectorAll<HTMLElement>("div[onclick], span[onclick], [role=button]:not(button)")) {
      problems.push(`clickable ${element.tagName.toLowerCase()} that is not a button: ${element.textContent?.slice(0, 40)}`);
    }
    return problems;
  });
}
