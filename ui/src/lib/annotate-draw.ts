// Drawing marks onto a 2D canvas, in IMAGE coordinates: the editor sets a transform that maps image
// px to the screen, the export draws at 1:1 onto a canvas of the photo's full size. Same code, so the
// saved photo matches what the person saw.
import { COLOR_HEX, OUTLINE, arrowGeometry, ellipseOf, placeText, type Mark, type Pt } from './annotate';

/** The dark edge around every mark (image px), so red, yellow and white all show on any background. */
export const outlineFor = (width: number): number => Math.max(1.5, width * 0.4);

export function textFont(size: number, family: string): string {
  return `700 ${size}px ${family}`;
}

export function drawMark(ctx: CanvasRenderingContext2D, m: Mark, family: string, imgW: number, imgH: number): void {
  ctx.save();
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  if (m.kind === 'arrow') {
    const g = arrowGeometry(m.from, m.to, m.width);
    if (g) {
      const o = outlineFor(m.width);
      for (const [colour, extra] of [[OUTLINE, 2 * o], [COLOR_HEX[m.color], 0]] as const) {
        ctx.strokeStyle = colour;
        ctx.fillStyle = colour;
        ctx.lineWidth = m.width + extra;
        line(ctx, m.from, g.shaftEnd);
        ctx.beginPath();
        ctx.moveTo(g.tip.x, g.tip.y);
        ctx.lineTo(g.left.x, g.left.y);
        ctx.lineTo(g.right.x, g.right.y);
        ctx.closePath();
        ctx.fill();
        if (extra > 0) {
          ctx.lineWidth = extra;
          ctx.stroke();
        }
      }
    }
  } else if (m.kind === 'ellipse') {
    const e = ellipseOf(m.from, m.to);
    const o = outlineFor(m.width);
    for (const [colour, extra] of [[OUTLINE, 2 * o], [COLOR_HEX[m.color], 0]] as const) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = m.width + extra;
      ctx.beginPath();
      ctx.ellipse(e.cx, e.cy, Math.max(e.rx, 0.5), Math.max(e.ry, 0.5), 0, 0, Math.PI * 2);
      ctx.stroke();
    }
  } else {
    const box = textBox(ctx, m, family, imgW, imgH);
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    const x = box.x + m.size * 0.25;
    const y = box.y + box.height / 2;
    ctx.strokeStyle = OUTLINE;
    ctx.lineWidth = m.size * 0.22;
    ctx.strokeText(m.text, x, y);
    ctx.fillStyle = COLOR_HEX[m.color];
    ctx.fillText(m.text, x, y);
  }
  ctx.restore();
}

/** Where a text mark lands (sets ctx.font as a side effect). */
export function textBox(ctx: CanvasRenderingContext2D, m: Extract<Mark, { kind: 'text' }>, family: string, imgW: number, imgH: number) {
  ctx.font = textFont(m.size, family);
  return placeText(m.at, ctx.measureText(m.text).width, m.size, imgW, imgH);
}

export function drawMarks(ctx: CanvasRenderingContext2D, marks: readonly Mark[], family: string, imgW: number, imgH: number): void {
  for (const m of marks) drawMark(ctx, m, family, imgW, imgH);
}

/** A text not added yet: drawn like a mark, inside a dashed box (on the screen only). */
export function drawPendingText(
  ctx: CanvasRenderingContext2D,
  m: Extract<Mark, { kind: 'text' }>,
  family: string,
  imgW: number,
  imgH: number,
  onePx: number,
): void {
  const box = textBox(ctx, m, family, imgW, imgH);
  ctx.save();
  ctx.lineWidth = 2 * onePx;
  ctx.setLineDash([6 * onePx, 4 * onePx]);
  ctx.strokeStyle = '#000';
  ctx.strokeRect(box.x, box.y, box.width, box.height);
  ctx.lineDashOffset = 5 * onePx;
  ctx.strokeStyle = '#fff';
  ctx.strokeRect(box.x, box.y, box.width, box.height);
  ctx.restore();
  if (m.text.trim()) drawMark(ctx, m, family, imgW, imgH);
}

function line(ctx: CanvasRenderingContext2D, a: Pt, b: Pt) {
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
}
