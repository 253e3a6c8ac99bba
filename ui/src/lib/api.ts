// Typed wrappers of every command in docs/ipc.md. The only place that talks to Rust.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  AppState,
  FindingDraft,
  FindingSummary,
  FindingView,
  PhotoInfo,
  PhotoSize,
  Scope,
  Session,
  SubmitReport,
  SyncStatus,
  Taxonomy,
  UserMessage,
} from './types';

export function isUserMessage(e: unknown): e is UserMessage {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as UserMessage).code === 'string' &&
    typeof (e as UserMessage).zh === 'string' &&
    typeof (e as UserMessage).en === 'string'
  );
}

/** Every rejection becomes a UserMessage, so screens only ever show `zh`/`en`. */
export function toUserMessage(e: unknown): UserMessage {
  if (isUserMessage(e)) return e;
  const detail = e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e);
  return {
    code: 'ui.unexpected',
    zh: `操作失败：${detail}。请重试；如果一直出现，请告诉组长。`,
    en: `Something went wrong: ${detail}. Try again; if it keeps happening, tell your team leader.`,
  };
}

async function call<T>(cmd: string, args?: Parameters<typeof invoke>[1]): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toUserMessage(e);
  }
}

export const appState = () => call<AppState>('app_state');

export const login = (serverUrl: string, username: string, password: string) =>
  call<Session>('login', { serverUrl, username, password });

export const logout = () => call<null>('logout');

export const taxonomy = () => call<Taxonomy>('taxonomy');

/** Sends the file's bytes as the raw request body. */
export async function ingestPhoto(file: Blob): Promise<PhotoInfo> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  return call<PhotoInfo>('ingest_photo', bytes);
}

export const saveFinding = (id: string | null, draft: FindingDraft) =>
  call<FindingView>('save_finding', { id, draft });

export const submitFindings = (ids: string[]) => call<SubmitReport>('submit_findings', { ids });

export const resolveConflict = (id: string, field: string, keep: 'mine' | 'theirs') =>
  call<FindingView>('resolve_conflict', { id, field, keep });

export const listFindings = (day: string | null, scope: Scope) =>
  call<FindingSummary[]>('list_findings', { day, scope });

export const getFinding = (id: string) => call<FindingView>('get_finding', { id });

/** JPEG bytes of a stored photo, as a blob: URL. The caller must URL.revokeObjectURL it. */
export async function photoUrl(hash: string, size: PhotoSize): Promise<string> {
  const raw = await call<ArrayBuffer | number[]>('photo', { hash, size });
  const bytes = raw instanceof ArrayBuffer ? raw : new Uint8Array(raw);
  return URL.createObjectURL(new Blob([bytes], { type: 'image/jpeg' }));
}

export const syncNow = () => call<SyncStatus>('sync_now');

export const syncStatus = () => call<SyncStatus>('sync_status');

export function onSyncStatus(handler: (s: SyncStatus) => void): Promise<UnlistenFn> {
  return listen<SyncStatus>('sync-status', (ev) => handler(ev.payload));
}
