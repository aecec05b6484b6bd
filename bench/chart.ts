/**
 * The chart of the report: rows/s against concurrency for batch-1 requests,
 * one panel per head, one line per system. Drawn as SVG by hand (a few
 * lines and labels) and rasterised to PNG with resvg.
 */
import { existsSync } from "node:fs";
import { Resvg } from "@resvg/resvg-js";
import type { SystemResult } from "./results.js";

const PANEL = { width: 520, height: 380, left: 70, right: 20, top: 40, bottom: 50 };
const COLORS = ["#d62728", "#ff7f0e", "#9ecae1", "#3182bd", "#08519c", "#31a354"];
const FONT = "DejaVu Sans";

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

function niceMax(value: number): number {
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

function panel(head: string, systems: readonly SystemResult[], offsetX: number): string {
  const { width, height, left, right, top, bottom } = PANEL;
  const lines = systems.map((s) => ({
    label: s.label,
    points: s.points.filter((p) => p.point.rows === 1).map((p) => [p.point.concurrency, p.load.rowsPerS] as const),
  }));
  const xs = [...new Set(lines.flatMap((l) => l.points.map(([c]) => c)))].sort((a, b) => a - b);
  const yMax = niceMax(Math.max(1, ...lines.flatMap((l) => l.points.map(([, r]) => r))));
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const x = (c: number) => offsetX + left + (xs.length < 2 ? plotW / 2 : (Math.log2(c / xs[0]!) / Math.log2(xs[xs.length - 1]! / xs[0]!)) * plotW);
  const y = (r: number) => top + plotH - (r / yMax) * plotH;
  const parts: string[] = [`<text x="${offsetX + width / 2}" y="24" font-size="15" text-anchor="middle" font-weight="bold">${escapeXml(head)}</text>`];
  for (let i = 0; i <= 5; i++) {
    const value = (yMax * i) / 5;
    parts.push(`<line x1="${offsetX + left}" x2="${offsetX + width - right}" y1="${y(value)}" y2="${y(value)}" stroke="#ddd"/>`);
    parts.push(`<text x="${offsetX + left - 6}" y="${y(value) + 4}" font-size="11" text-anchor="end">${Math.round(value)}</text>`);
  }
  for (const c of xs) parts.push(`<text x="${x(c)}" y="${top + plotH + 16}" font-size="11" text-anchor="middle">${c}</text>`);
  parts.push(`<text x="${offsetX + left + plotW / 2}" y="${height - 12}" font-size="12" text-anchor="middle">concurrent callers (batch-1 requests)</text>`);
  parts.push(
    `<text x="${offsetX + 16}" y="${top + plotH / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 ${offsetX + 16} ${top + plotH / 2})">rows/s</text>`,
  );
  parts.push(`<rect x="${offsetX + left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  lines.forEach((line, i) => {
    const color = COLORS[i % COLORS.length]!;
    const path = line.points.map(([c, r], j) => `${j === 0 ? "M" : "L"}${x(c).toFixed(1)},${y(r).toFixed(1)}`).join(" ");
    parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2.5"/>`);
    for (const [c, r] of line.points) parts.push(`<circle cx="${x(c)}" cy="${y(r)}" r="3.5" fill="${color}"/>`);
    parts.push(`<rect x="${offsetX + left + 10}" y="${top + 10 + i * 18}" width="14" height="4" fill="${color}"/>`);
    parts.push(`<text x="${offsetX + left + 30}" y="${top + 15 + i * 18}" font-size="11">${escapeXml(line.label)}</text>`);
  });
  return parts.join("\n");
}

export function chartSvg(systems: readonly SystemResult[], caption: string): string {
  const heads = [...new Set(systems.map((s) => s.head))];
  const width = PANEL.width * heads.length;
  const height = PANEL.height + 24;
  const panels = heads.map((h, i) =>
    panel(
      h,
      systems.filter((s) => s.head === h),
      i * PANEL.width,
    ),
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT}, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...panels,
    `<text x="${width / 2}" y="${height - 6}" font-size="11" text-anchor="middle" fill="#555">${escapeXml(caption)}</text>`,
    "</svg>",
  ].join("\n");
}

export function chartPng(svg: string): Buffer {
  const dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  const font = existsSync(dejavu)
    ? { fontFiles: [dejavu], loadSystemFonts: false, defaultFontFamily: FONT }
    : { loadSystemFonts: true, defaultFontFamily: FONT };
  return new Resvg(svg, { font, fitTo: { mode: "zoom", value: 2 } }).render().asPng();
}
