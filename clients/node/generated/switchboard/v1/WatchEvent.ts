// Original file: switchboard/v1/kv.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';

// Original file: switchboard/v1/kv.proto

export const _switchboard_v1_WatchEvent_Kind = {
  KIND_UNSPECIFIED: 'KIND_UNSPECIFIED',
  SET: 'SET',
  DELETED: 'DELETED',
} as const;

export type _switchboard_v1_WatchEvent_Kind =
  | 'KIND_UNSPECIFIED'
  | 0
  | 'SET'
  | 1
  | 'DELETED'
  | 2

export type _switchboard_v1_WatchEvent_Kind__Output = typeof _switchboard_v1_WatchEvent_Kind[keyof typeof _switchboard_v1_WatchEvent_Kind]

export interface WatchEvent {
  'kind'?: (_switchboard_v1_WatchEvent_Kind);
  'key'?: (string);
  'value'?: (string);
  'time'?: (_google_protobuf_Timestamp | null);
}

export interface WatchEvent__Output {
  'kind': (_switchboard_v1_WatchEvent_Kind__Output);
  'key': (string);
  'value': (string);
  'time': (_google_protobuf_Timestamp__Output | null);
}
