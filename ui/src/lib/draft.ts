// The capture form's draft, saved to localStorage on every change and restored on the next open,
// so nothing is lost if the app is closed mid-way. Cleared on save.
import { resolvePosition, type DeviceFix } from './position';
import type { FindingDraft, PhotoInfo, Severity } from './types';
import { rfc3339Local } from './time';

export const DRAFT_KEY = 'xuncha.draft.v1';

export interface CaptureDraft {
  /** who started it: a draft is only restored for the same user */
  owner: string;
  /** null for a new finding, else the id being edited */
  editingId: string | null;
  photos: PhotoInfo[];
  category: string;
  subcategory: string;
  description: string;
  address: string;
  severity: Severity;
  device: DeviceFix | null;
  map: { lat: number; lon: number } | null;
  typed: { lat: string; lon: string } | null;
  manual: 'map' | 'typed' | null;
  observed_at: string;
}

/** The part of Storage this needs (localStorage in the app, a Map in tests). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function emptyDraft(owner: string, now: Date = new Date()): CaptureDraft {
  return {
    owner,
    editingId: null,
    photos: [],
    category: '',
    subcategory: '',
    description: '',
    address: '',
    severity: 'normal',
    device: null,
    map: null,
    typed: null,
    manual: null,
    observed_at: rfc3339Local(now),
  };
}

/** True when there is something worth keeping (an empty form is not a draft). */
export function hasContent(d: CaptureDraft): boolean {
  return (
    d.editingId !== null ||
    d.photos.length > 0 ||
    d.category !== '' ||
    d.description.trim() !== '' ||
    d.address.trim() !== '' ||
    d.map !== null ||
    d.typed !== null
  );
}

export function saveDraft(store: KeyValueStore, d: CaptureDraft): void {
  try {
    if (hasContent(d)) store.setItem(DRAFT_KEY, JSON.stringify(d));
    else store.removeItem(DRAFT_KEY);
  } catch {
    // storage full or unavailable: the form still works, only the safety net is gone
  }
}

export function clearDraft(store: KeyValueStore): void {
  try {
    store.removeItem(DRAFT_KEY);
  } catch {
    /* ignore */
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, dflt = '') => (typeof v === 'string' ? v : dflt);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const point = (v: unknown) => {
  if (!isObj(v)) return null;
  const lat = num(v.lat);
  const lon = num(v.lon);
  return lat === null || lon === null ? null : { lat, lon };
};

/** The stored draft of `owner`, or null (none, another user's, or unreadable). */
export function loadDraft(store: KeyValueStore, owner: string): CaptureDraft | null {
  let raw: string | null;
  try {
    raw = store.getItem(DRAFT_KEY);
  } catch {
    return null;
  }
  if (!raw) return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObj(v) || v.owner !== owner) return null;
  const base = emptyDraft(owner);
  const sev = v.severity === 'low' || v.severity === 'high' ? v.severity : 'normal';
  const photos = Array.isArray(v.photos)
    ? (v.photos.filter((p) => isObj(p) && typeof p.hash === 'string') as unknown as PhotoInfo[])
    : [];
  const dev = point(v.device);
  const typed =
    isObj(v.typed) && typeof v.typed.lat === 'string' && typeof v.typed.lon === 'string'
      ? { lat: v.typed.lat, lon: v.typed.lon }
      : null;
  return {
    owner,
    editingId: typeof v.editingId === 'string' ? v.editingId : null,
    photos,
    category: str(v.category),
    subcategory: str(v.subcategory),
    description: str(v.description),
    address: str(v.address),
    severity: sev,
    device: dev && isObj(v.device) ? { ...dev, accuracy_m: num(v.device.accuracy_m) } : null,
    map: point(v.map),
    typed,
    manual: v.manual === 'map' || v.manual === 'typed' ? v.manual : null,
    observed_at: str(v.observed_at, base.observed_at),
  };
}

/** What save_finding receives. */
export function toFindingDraft(d: CaptureDraft): FindingDraft {
  return {
    category: d.category,
    subcategory: d.subcategory,
    description: d.description.trim(),
    address: d.address.trim(),
    severity: d.severity,
    position: resolvePosition(d),
    photos: d.photos.map((p) => p.hash),
    observed_at: d.observed_at,
  };
}
