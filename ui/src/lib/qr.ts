// The join URL as a QR code, drawn as one SVG path (no image, no data URL, no canvas), so it
// is crisp on the projector at any size and passes the hub's CSP.
import qrcode from "qrcode-generator";

export interface QrPath {
  /** Modules per side, including the 4-module quiet zone on each side. */
  size: number;
  /** SVG path data: one 1×1 square per dark module. */
  d: string;
}

export const QUIET_ZONE = 4;

export function qrPath(text: string): QrPath {
  const code = qrcode(0, "M");
  code.addData(text);
  code.make();
  const count = code.getModuleCount();
  const parts: string[] = [];
  for (let row = 0; row < count; row++) {
    for (let col = 0; col < count; col++) {
      if (code.isDark(row, col)) parts.push(`M${col + QUIET_ZONE} ${row + QUIET_ZONE}h1v1h-1z`);
    }
  }
  return { size: count + 2 * QUIET_ZONE, d: parts.join("") };
}
