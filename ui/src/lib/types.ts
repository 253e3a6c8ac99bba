// The view types of docs/ipc.md, field for field (snake_case, as serde sends them).

export interface UserMessage {
  code: string;
  zh: string;
  en: string;
}

export type Role = 'inspector' | 'team_leader' | 'district_office' | 'admin';

export interface Session {
  user: {
    id: string;
    username: string;
    display_name: string;
    role: Role;
    team: { id: string; name: string } | null;
    district: { id: string; zh: string; en: string } | null;
  };
  server_url: string;
  offline: boolean;
}

export interface SyncStatus {
  online: boolean;
  syncing: boolean;
  pending_ops: number;
  pending_photos: number;
  rejected_ops: number;
  /** fields of this person's edits changed on the server meanwhile, awaiting a choice */
  conflicts: number;
  last_sync_at: string | null;
  last_error: UserMessage | null;
  all_synced: boolean;
}

export interface AppState {
  session: Session | null;
  device_id: string;
  last_server_url: string | null;
  sync: SyncStatus;
}

export interface ExifGps {
  lat: number;
  lon: number;
  altitude_m: number | null;
}

export interface PhotoInfo {
  hash: string;
  width: number;
  height: number;
  bytes: number;
  gps: ExifGps | null;
  taken_at: string | null;
  orientation: number;
  make: string | null;
  model: string | null;
}

export type PositionSource = 'device_gps' | 'photo_exif' | 'map' | 'typed';

export interface RawPosition {
  lat: number;
  lon: number;
  accuracy_m: number | null;
  source: PositionSource;
}

export type Severity = 'low' | 'normal' | 'high';

export interface FindingDraft {
  category: string;
  subcategory: string;
  description: string;
  address: string;
  severity: Severity;
  position: RawPosition | null;
  photos: string[];
  /** RFC 3339 with offset */
  observed_at: string;
}

export type SyncState = 'local' | 'pending' | 'synced' | 'rejected' | 'conflict';

export interface FindingSummary {
  id: string;
  category: string;
  subcategory: string;
  description: string;
  status: string;
  observed_at: string;
  author_name: string;
  /** first photo hash */
  thumb: string | null;
  photo_count: number;
  has_position: boolean;
  imprecise: boolean;
  sync_state: SyncState;
}

export interface HistoryEntry {
  at: string;
  actor: string;
  kind: string;
  detail: string | null;
}

export interface FindingView extends FindingSummary {
  author: string;
  team: string;
  team_name: string;
  address: string;
  severity: string;
  position: { lat: number; lon: number; accuracy_m: number | null; source: string } | null;
  photos: { hash: string; present: boolean; uploaded: boolean }[];
  sub_district: string | null;
  version: number;
  received_at: string | null;
  rejection: UserMessage | null;
  conflicts: FieldConflict[];
  history: HistoryEntry[];
}

export type ConflictField = 'category' | 'description' | 'address' | 'severity' | 'position' | 'photos' | 'observed_at';

/** A field both this phone and the server changed: the server kept `theirs`; `yours` awaits a choice. */
export interface FieldConflict {
  field: ConflictField;
  yours: unknown;
  theirs: unknown;
  at: string;
}

export interface SubmitReport {
  submitted: string[];
  refused: { id: string; error: UserMessage }[];
}

export interface Subcategory {
  code: string;
  zh: string;
  en: string;
}

export interface Category {
  code: string;
  zh: string;
  en: string;
  icon: string;
  time_limit_hours: number;
  subcategories: Subcategory[];
}

export interface Taxonomy {
  version: number;
  categories: Category[];
}

export type Scope = 'mine' | 'team';
export type PhotoSize = 'thumb' | 'full';
