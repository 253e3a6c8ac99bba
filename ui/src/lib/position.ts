// Where a finding is: the fallback chain, as a pure function.
//
// Order: a place the person chose themselves (map tap or typed coordinates — whichever was set last)
// wins, because they only do that when the automatic position is wrong or missing. Otherwise the
// phone's GPS fix, otherwise the first photo's EXIF position, otherwise nothing.
import type { ExifGps, PhotoInfo, RawPosition } from './types';

/** Above this the position is shown with a warning (the brief: "a warning above ~30 m"). */
export const ACCURACY_WARN_M = 30;

export interface DeviceFix {
  lat: number;
  lon: number;
  accuracy_m: number | null;
}

export interface PositionInputs {
  device: DeviceFix | null;
  /** the photos in the order they were taken; the first one with EXIF GPS counts */
  photos: Pick<PhotoInfo, 'gps'>[];
  map: { lat: number; lon: number } | null;
  typed: { lat: string; lon: string } | null;
  /** which manual source the person used last, if any */
  manual: 'map' | 'typed' | null;
}

/**
 * Typed coordinates as numbers, or null if either is not a number. Range is checked by the
 * engine (its message says what is wrong), so 95 passes here on purpose.
 */
export function parseTyped(t: { lat: string; lon: string } | null): { lat: number; lon: number } | null {
  if (!t) return null;
  const clean = (s: string) => s.trim().replace(/，/g, '.').replace(/,/g, '.');
  const a = clean(t.lat);
  const b = clean(t.lon);
  if (a === '' || b === '') return null;
  const lat = Number(a);
  const lon = Number(b);
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  return { lat, lon };
}

export function firstExif(photos: Pick<PhotoInfo, 'gps'>[]): ExifGps | null {
  for (const p of photos) if (p.gps) return p.gps;
  return null;
}

export function resolvePosition(i: PositionInputs): RawPosition | null {
  const typed = parseTyped(i.typed);
  const manualOrder: ('map' | 'typed')[] = i.manual === 'typed' ? ['typed', 'map'] : i.manual === 'map' ? ['map', 'typed'] : [];
  for (const m of manualOrder) {
    if (m === 'map' && i.map) return { lat: i.map.lat, lon: i.map.lon, accuracy_m: null, source: 'map' };
    if (m === 'typed' && typed) return { ...typed, accuracy_m: null, source: 'typed' };
  }
  if (i.device) return { lat: i.device.lat, lon: i.device.lon, accuracy_m: i.device.accuracy_m, source: 'device_gps' };
  const exif = firstExif(i.photos);
  if (exif) return { lat: exif.lat, lon: exif.lon, accuracy_m: null, source: 'photo_exif' };
  return null;
}

export function isImprecise(p: { accuracy_m: number | null } | null): boolean {
  return !!p && p.accuracy_m !== null && p.accuracy_m > ACCURACY_WARN_M;
}

export function formatCoord(v: number): string {
  return v.toFixed(6);
}
