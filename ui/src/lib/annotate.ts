// Photo annotation, the pure part: where the photo sits on the screen, screen ↔ image coordinates,
// how thick marks are, arrowhead and ellipse geometry, where text goes, and the list of marks with
// undo. Marks are kept in IMAGE pixels (of the stored full-size photo), so the editor can be resized
// or rotated mid-way and the saved photo shows exactly what was seen on the screen, only larger.
// Drawing onto a canvas is in annotate-draw.ts.

export interface Pt {
  x: number;
  y: number;
}

export type MarkColor = 'red' | 'yellow' | 'white';
export const MARK_COLORS: readonly MarkColor[] = ['red', 'yellow', 'white'];
/** High contrast on photos; every mark also gets a dark outline (see OUTLINE). */
export const COLOR_HEX: Record<MarkColor, string> = { red: '#ff1a1a', yellow: '#ffe100', white: '#ffffff' };
export const OUTLINE = 'rgba(0, 0, 0, 0.82)';

export type Tool = 'arrow' | 'circle' | 'text';

export type Mark =
  /** `width`: stroke width in image px */
  | { kind: 'arrow'; from: Pt; to: Pt; color: MarkColor; width: number }
  /** the ellipse inscribed in the box with corners `from` and `to` */
  | { kind: 'ellipse'; from: Pt; to: Pt; color: MarkColor; width: number }
  /** `at`: where the person tapped (the text's centre, kept inside the photo); `size`: font px */
  | { kind: 'text'; at: Pt; text: string; color: MarkColor; size: number };

// ------------------------------------------------------------------ photo on the screen

/** Where the photo is drawn inside a box (CSS px): top-left corner and screen px per image px. */
export interface Fit {
  x: number;
  y: number;
  scale: number;
}

/** The photo scaled to fit entirely inside the box, centred (letterboxed). Small photos are
 * enlarged too: marks are easier to place on a bigger picture. */
export function fitContain(imgW: number, imgH: number, boxW: number, boxH: number): Fit {
  if (imgW <= 0 || imgH <= 0 || boxW <= 0 || boxH <= 0) return { x: 0, y: 0, scale: 1 };
  const scale = Math.min(boxW / imgW, boxH / imgH);
  return { x: (boxW - imgW * scale) / 2, y: (boxH - imgH * scale) / 2, scale };
}

/** A point on the screen (CSS px relative to the box) → image px, clamped to the photo. */
export function screenToImage(p: Pt, fit: Fit, imgW: number, imgH: number): Pt {
  const x = (p.x - fit.x) / fit.scale;
  const y = (p.y - fit.y) / fit.scale;
  return { x: clamp(x, 0, imgW), y: clamp(y, 0, imgH) };
}

export function imageToScreen(p: Pt, fit: Fit): Pt {
  return { x: fit.x + p.x * fit.scale, y: fit.y + p.y * fit.scale };
}

/** True when a screen point lies on the photo (with `slack` CSS px around it). */
export function onImage(p: Pt, fit: Fit, imgW: number, imgH: number, slack = 0): boolean {
  return (
    p.x >= fit.x - slack &&
    p.y >= fit.y - slack &&
    p.x <= fit.x + imgW * fit.scale + slack &&
    p.y <= fit.y + imgH * fit.scale + slack
  );
}

// ------------------------------------------------------------------ sizes

/** Stroke width on the screen, CSS px: at least 6 on a phone, a little more on a big screen. */
export function strokeCss(fit: Fit, imgW: number, imgH: number): number {
  const shown = Math.min(imgW, imgH) * fit.scale;
  return clamp(Math.round(shown / 45), 6, 12);
}

/** Text size on the screen, CSS px. */
export function textCss(fit: Fit, imgW: number, imgH: number): number {
  const shown = Math.min(imgW, imgH) * fit.scale;
  return clamp(Math.round(shown / 10), 22, 40);
}

/** Screen CSS px → image px at the current fit (what the saved photo uses). */
export function toImagePx(css: number, fit: Fit): number {
  return css / fit.scale;
}

/** A drag shorter than this (CSS px) is a tap, not a mark. */
export const MIN_DRAG_CSS = 12;

// ------------------------------------------------------------------ geometry

export interface ArrowGeometry {
  /** where the shaft (a line of the mark's width) ends: inside the head, so no gap shows */
  shaftEnd: Pt;
  tip: Pt;
  /** the two back corners of the filled triangular head */
  left: Pt;
  right: Pt;
  headLength: number;
}

/** Head length as a multiple of the stroke width, and the head's half-angle. */
export const HEAD_LENGTH = 4.5;
export const HEAD_HALF_ANGLE = (28 * Math.PI) / 180;

/**
 * The arrow from `from` to `to` (the tip), for a stroke `width`. The head is HEAD_LENGTH × width
 * long (about 2.4 × width wide at its base, so it stays clearly visible), but never more than 60% of
 * a short arrow. Null when the arrow has no length.
 */
export function arrowGeometry(from: Pt, to: Pt, width: number): ArrowGeometry | null {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const len = Math.hypot(dx, dy);
  if (!(len > 0)) return null;
  const ux = dx / len;
  const uy = dy / len;
  const head = Math.min(HEAD_LENGTH * width, len * 0.6);
  const half = head * Math.tan(HEAD_HALF_ANGLE);
  const bx = to.x - ux * head;
  const by = to.y - uy * head;
  // perpendicular (−uy, ux)
  return {
    tip: { x: to.x, y: to.y },
    left: { x: bx - uy * half, y: by + ux * half },
    right: { x: bx + uy * half, y: by - ux * half },
    shaftEnd: { x: to.x - ux * head * 0.8, y: to.y - uy * head * 0.8 },
    headLength: head,
  };
}

/** The ellipse inscribed in the box spanned by a drag. */
export function ellipseOf(from: Pt, to: Pt): { cx: number; cy: number; rx: number; ry: number } {
  return {
    cx: (from.x + to.x) / 2,
    cy: (from.y + to.y) / 2,
    rx: Math.abs(to.x - from.x) / 2,
    ry: Math.abs(to.y - from.y) / 2,
  };
}

/**
 * The box of a text mark, image px: centred on `at`, then moved so that all of it stays on the
 * photo (text never runs off the edge; a text wider than the photo starts at its left edge).
 * `textWidth` is the measured width of the text at `size`.
 */
export function placeText(
  at: Pt,
  textWidth: number,
  size: number,
  imgW: number,
  imgH: number,
): { x: number; y: number; width: number; height: number } {
  const pad = size * 0.25;
  const width = textWidth + 2 * pad;
  const height = size * 1.3;
  const x = Math.max(0, Math.min(at.x - width / 2, imgW - width));
  const y = Math.max(0, Math.min(at.y - height / 2, imgH - height));
  return { x, y, width, height };
}

/** Whether a finished drag is big enough to keep (sizes in image px). */
export function isMeaningful(m: Mark, minImagePx: number): boolean {
  switch (m.kind) {
    case 'arrow':
      return Math.hypot(m.to.x - m.from.x, m.to.y - m.from.y) >= minImagePx;
    case 'ellipse':
      return Math.max(Math.abs(m.to.x - m.from.x), Math.abs(m.to.y - m.from.y)) >= minImagePx;
    case 'text':
      return m.text.trim() !== '';
  }
}

// ------------------------------------------------------------------ the list of marks, with undo

/** Immutable: every change returns a new value (easy to keep in Svelte state, easy to test). */
export interface MarkList {
  readonly items: readonly Mark[];
  /** earlier `items`, newest last: what "undo" goes back to (a "clear" can be undone too) */
  readonly past: readonly (readonly Mark[])[];
}

export const emptyMarks: MarkList = { items: [], past: [] };

/** How many steps "undo" remembers. */
export const UNDO_DEPTH = 100;

function remember(list: MarkList): readonly (readonly Mark[])[] {
  const past = [...list.past, list.items];
  return past.length > UNDO_DEPTH ? past.slice(past.length - UNDO_DEPTH) : past;
}

export function addMark(list: MarkList, m: Mark): MarkList {
  return { items: [...list.items, m], past: remember(list) };
}

export function undoMark(list: MarkList): MarkList {
  if (!list.past.length) return list;
  return { items: list.past[list.past.length - 1], past: list.past.slice(0, -1) };
}

export function clearMarks(list: MarkList): MarkList {
  if (!list.items.length) return list;
  return { items: [], past: remember(list) };
}

export const canUndo = (list: MarkList): boolean => list.past.length > 0;

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
