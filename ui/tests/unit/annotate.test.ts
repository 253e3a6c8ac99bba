import { describe, expect, it } from 'vitest';
import {
  COLOR_HEX,
  HEAD_HALF_ANGLE,
  HEAD_LENGTH,
  MIN_DRAG_CSS,
  OUTLINE,
  UNDO_DEPTH,
  addMark,
  arrowGeometry,
  canUndo,
  clearMarks,
  ellipseOf,
  emptyMarks,
  fitContain,
  imageToScreen,
  isMeaningful,
  onImage,
  placeText,
  screenToImage,
  strokeCss,
  textCss,
  toImagePx,
  undoMark,
  type Mark,
  type Pt,
} from '../../src/lib/annotate';
import { drawMark } from '../../src/lib/annotate-draw';

const close = (a: Pt, b: Pt, digits = 6) => {
  expect(a.x).toBeCloseTo(b.x, digits);
  expect(a.y).toBeCloseTo(b.y, digits);
};

// a stored photo (long edge 2048) in the editor's stage on a 390×844 phone and on a 1280×800 screen
const IMG = { w: 2048, h: 1536 };
const PHONE_STAGE = { w: 390, h: 560 };
const DESKTOP_STAGE = { w: 1280, h: 560 };

describe('fitting the photo on the screen', () => {
  it('a landscape photo on a phone fills the width and is centred vertically', () => {
    const f = fitContain(IMG.w, IMG.h, PHONE_STAGE.w, PHONE_STAGE.h);
    expect(f.scale).toBeCloseTo(390 / 2048);
    expect(f.x).toBeCloseTo(0);
    expect(f.y).toBeCloseTo((560 - 1536 * (390 / 2048)) / 2);
  });

  it('on a wide screen it fills the height and is centred horizontally', () => {
    const f = fitContain(IMG.w, IMG.h, DESKTOP_STAGE.w, DESKTOP_STAGE.h);
    expect(f.scale).toBeCloseTo(560 / 1536);
    expect(f.y).toBeCloseTo(0);
    expect(f.x).toBeCloseTo((1280 - 2048 * (560 / 1536)) / 2);
  });

  it('a small photo is enlarged', () => {
    expect(fitContain(640, 480, 1280, 960).scale).toBeCloseTo(2);
  });

  it('an empty box or photo does not divide by zero', () => {
    expect(fitContain(0, 0, 390, 560)).toEqual({ x: 0, y: 0, scale: 1 });
    expect(fitContain(640, 480, 0, 0)).toEqual({ x: 0, y: 0, scale: 1 });
  });
});

describe('screen → image coordinates', () => {
  const f = fitContain(IMG.w, IMG.h, PHONE_STAGE.w, PHONE_STAGE.h);

  it('the corners and the centre of the photo on the screen map to the image corners and centre', () => {
    close(screenToImage({ x: f.x, y: f.y }, f, IMG.w, IMG.h), { x: 0, y: 0 });
    close(screenToImage({ x: 390, y: f.y + 1536 * f.scale }, f, IMG.w, IMG.h), { x: 2048, y: 1536 }, 4);
    close(screenToImage({ x: 195, y: 280 }, f, IMG.w, IMG.h), { x: 1024, y: 768 }, 4);
  });

  it('round-trips with image → screen', () => {
    const p = { x: 123.5, y: 301.25 };
    close(imageToScreen(screenToImage(p, f, IMG.w, IMG.h), f), p);
  });

  it('a point in the letterbox is clamped onto the photo', () => {
    expect(screenToImage({ x: -30, y: 2 }, f, IMG.w, IMG.h)).toEqual({ x: 0, y: 0 });
    expect(screenToImage({ x: 500, y: 559 }, f, IMG.w, IMG.h)).toEqual({ x: 2048, y: 1536 });
  });

  it('knows whether a tap is on the photo', () => {
    expect(onImage({ x: 195, y: 280 }, f, IMG.w, IMG.h)).toBe(true);
    expect(onImage({ x: 195, y: 5 }, f, IMG.w, IMG.h)).toBe(false);
    expect(onImage({ x: 195, y: f.y - 10 }, f, IMG.w, IMG.h, 24)).toBe(true);
  });
});

describe('sizes: thick on the phone, scaled for the full photo', () => {
  it('strokes are at least 6 CSS px on a phone and at most 12', () => {
    const phone = fitContain(IMG.w, IMG.h, PHONE_STAGE.w, PHONE_STAGE.h);
    expect(strokeCss(phone, IMG.w, IMG.h)).toBeGreaterThanOrEqual(6);
    const tiny = fitContain(IMG.w, IMG.h, 200, 150);
    expect(strokeCss(tiny, IMG.w, IMG.h)).toBe(6);
    const huge = fitContain(IMG.w, IMG.h, 4000, 3000);
    expect(strokeCss(huge, IMG.w, IMG.h)).toBe(12);
  });

  it('a 6-px stroke on a 390-px-wide photo is 31.5 px on the 2048-px photo (same look, larger)', () => {
    const phone = fitContain(IMG.w, IMG.h, 390, 560);
    expect(toImagePx(6, phone)).toBeCloseTo(6 * (2048 / 390));
    // and it shows as 6 px again on the screen
    expect(toImagePx(6, phone) * phone.scale).toBeCloseTo(6);
  });

  it('text is readable on a phone', () => {
    const phone = fitContain(IMG.w, IMG.h, PHONE_STAGE.w, PHONE_STAGE.h);
    expect(textCss(phone, IMG.w, IMG.h)).toBeGreaterThanOrEqual(22);
    expect(textCss(fitContain(IMG.w, IMG.h, 4000, 3000), IMG.w, IMG.h)).toBe(40);
  });
});

describe('arrowhead geometry', () => {
  const w = 10;

  it('the tip is where the drag ended, the head is HEAD_LENGTH × width, symmetric about the shaft', () => {
    const g = arrowGeometry({ x: 0, y: 0 }, { x: 200, y: 0 }, w)!;
    expect(g.tip).toEqual({ x: 200, y: 0 });
    expect(g.headLength).toBeCloseTo(HEAD_LENGTH * w);
    const half = HEAD_LENGTH * w * Math.tan(HEAD_HALF_ANGLE);
    close(g.left, { x: 200 - HEAD_LENGTH * w, y: half });
    close(g.right, { x: 200 - HEAD_LENGTH * w, y: -half });
  });

  it('the head is clearly wider than the shaft (at least 4 × its width at the base)', () => {
    const g = arrowGeometry({ x: 10, y: 10 }, { x: 300, y: 250 }, w)!;
    expect(Math.hypot(g.left.x - g.right.x, g.left.y - g.right.y)).toBeGreaterThanOrEqual(4 * w);
  });

  it('works in any direction (here: pointing up-left)', () => {
    const g = arrowGeometry({ x: 100, y: 100 }, { x: 0, y: 0 }, w)!;
    const d = (HEAD_LENGTH * w) / Math.SQRT2;
    // the base's midpoint is on the shaft, HEAD_LENGTH × width back from the tip
    close({ x: (g.left.x + g.right.x) / 2, y: (g.left.y + g.right.y) / 2 }, { x: d, y: d });
  });

  it('the shaft ends inside the head, so no gap shows between them', () => {
    const g = arrowGeometry({ x: 0, y: 0 }, { x: 200, y: 0 }, w)!;
    expect(g.shaftEnd.y).toBeCloseTo(0);
    expect(g.shaftEnd.x).toBeGreaterThan(200 - g.headLength);
    expect(g.shaftEnd.x).toBeLessThan(200);
    // the shaft's round cap (radius w/2) stays inside the triangle there
    const halfWidthAtCap = (200 - (g.shaftEnd.x + w / 2)) * Math.tan(HEAD_HALF_ANGLE);
    expect(halfWidthAtCap).toBeGreaterThanOrEqual(w / 2);
  });

  it('a short arrow gets a smaller head (60% of its length at most)', () => {
    const g = arrowGeometry({ x: 0, y: 0 }, { x: 20, y: 0 }, w)!;
    expect(g.headLength).toBeCloseTo(12);
  });

  it('no length, no arrow', () => {
    expect(arrowGeometry({ x: 5, y: 5 }, { x: 5, y: 5 }, w)).toBeNull();
  });
});

describe('ellipse and text placement', () => {
  it('the ellipse is inscribed in the dragged box, whichever way it was dragged', () => {
    expect(ellipseOf({ x: 300, y: 200 }, { x: 100, y: 100 })).toEqual({ cx: 200, cy: 150, rx: 100, ry: 50 });
  });

  it('text is centred where the person tapped', () => {
    const b = placeText({ x: 500, y: 400 }, 200, 40, 2048, 1536);
    expect(b.x + b.width / 2).toBeCloseTo(500);
    expect(b.y + b.height / 2).toBeCloseTo(400);
  });

  it('text near an edge is moved back onto the photo', () => {
    const b = placeText({ x: 2040, y: 1530 }, 300, 40, 2048, 1536);
    expect(b.x + b.width).toBeCloseTo(2048);
    expect(b.y + b.height).toBeCloseTo(1536);
    const c = placeText({ x: 3, y: 3 }, 300, 40, 2048, 1536);
    expect(c.x).toBe(0);
    expect(c.y).toBe(0);
  });

  it('text wider than the photo starts at its left edge', () => {
    expect(placeText({ x: 300, y: 300 }, 5000, 40, 2048, 1536).x).toBe(0);
  });
});

const arrow = (n: number): Mark => ({ kind: 'arrow', from: { x: 0, y: 0 }, to: { x: n, y: n }, color: 'red', width: 6 });

describe('which drags are kept', () => {
  it('a tap (tiny drag) is not a mark; a real drag is', () => {
    expect(isMeaningful(arrow(2), MIN_DRAG_CSS)).toBe(false);
    expect(isMeaningful(arrow(40), MIN_DRAG_CSS)).toBe(true);
    expect(isMeaningful({ kind: 'ellipse', from: { x: 0, y: 0 }, to: { x: 3, y: 50 }, color: 'red', width: 6 }, 12)).toBe(true);
  });

  it('empty text is not a mark', () => {
    const text = (s: string): Mark => ({ kind: 'text', at: { x: 0, y: 0 }, text: s, color: 'white', size: 30 });
    expect(isMeaningful(text('  '), 12)).toBe(false);
    expect(isMeaningful(text('消防通道'), 12)).toBe(true);
  });
});

describe('the list of marks, with undo', () => {
  it('adds marks in order; undo takes the last one away', () => {
    let l = addMark(addMark(emptyMarks, arrow(1)), arrow(2));
    expect(l.items).toEqual([arrow(1), arrow(2)]);
    expect(canUndo(l)).toBe(true);
    l = undoMark(l);
    expect(l.items).toEqual([arrow(1)]);
    l = undoMark(l);
    expect(l.items).toEqual([]);
    expect(canUndo(l)).toBe(false);
    expect(undoMark(l)).toBe(l);
  });

  it('never changes a list in place', () => {
    const a = addMark(emptyMarks, arrow(1));
    addMark(a, arrow(2));
    expect(a.items).toEqual([arrow(1)]);
    expect(emptyMarks.items).toEqual([]);
  });

  it('clear removes everything, and can itself be undone', () => {
    const l = addMark(addMark(emptyMarks, arrow(1)), arrow(2));
    const c = clearMarks(l);
    expect(c.items).toEqual([]);
    expect(undoMark(c).items).toEqual([arrow(1), arrow(2)]);
    expect(clearMarks(emptyMarks)).toBe(emptyMarks);
  });

  it('remembers a bounded number of steps', () => {
    let l = emptyMarks;
    for (let i = 0; i < UNDO_DEPTH + 20; i++) l = addMark(l, arrow(i));
    expect(l.past.length).toBe(UNDO_DEPTH);
    expect(l.items.length).toBe(UNDO_DEPTH + 20);
  });
});

describe('drawing (onto a recording canvas context)', () => {
  it('an arrow: dark outline first, then its colour; the head is a filled triangle from the tip', () => {
    const log: string[] = [];
    const ctx = makeCtx(log);
    drawMark(ctx, { kind: 'arrow', from: { x: 0, y: 0 }, to: { x: 200, y: 0 }, color: 'red', width: 10 }, 'sans-serif', 1000, 1000);
    const outline = log.indexOf(`strokeStyle=${OUTLINE}`);
    const colour = log.indexOf(`strokeStyle=${COLOR_HEX.red}`);
    expect(outline).toBeGreaterThanOrEqual(0);
    expect(colour).toBeGreaterThan(outline);
    expect(log).toContain('moveTo(200,0)');
    expect(log.filter((c) => c === 'fill()').length).toBe(2);
  });

  it('text: bold, in the given font family (the system CJK font), outlined then filled', () => {
    const log: string[] = [];
    const ctx = makeCtx(log);
    drawMark(ctx, { kind: 'text', at: { x: 500, y: 500 }, text: '消防通道', color: 'yellow', size: 40 }, "'Noto Sans CJK SC', sans-serif", 1000, 1000);
    expect(log).toContain("font=700 40px 'Noto Sans CJK SC', sans-serif");
    const s = log.findIndex((c) => c.startsWith('strokeText(消防通道'));
    const f = log.findIndex((c) => c.startsWith('fillText(消防通道'));
    expect(s).toBeGreaterThanOrEqual(0);
    expect(f).toBeGreaterThan(s);
    expect(log).toContain(`fillStyle=${COLOR_HEX.yellow}`);
  });
});

/** A stand-in for CanvasRenderingContext2D that logs calls and property writes. */
function makeCtx(log: string[]): CanvasRenderingContext2D {
  const target: Record<string, unknown> = {
    measureText: (s: string) => ({ width: [...s].length * 40 }),
  };
  for (const fn of ['save', 'restore', 'beginPath', 'moveTo', 'lineTo', 'closePath', 'fill', 'stroke', 'ellipse', 'strokeText', 'fillText'])
    target[fn] = (...args: unknown[]) => {
      log.push(`${fn}(${args.map((a) => (typeof a === 'number' ? Math.round(a) : String(a))).join(',')})`);
    };
  return new Proxy(target, {
    set(t, key, value) {
      log.push(`${String(key)}=${String(value)}`);
      t[key as string] = value;
      return true;
    },
  }) as unknown as CanvasRenderingContext2D;
}
